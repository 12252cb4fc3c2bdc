# syntax=docker/dockerfile:1.7
#
# Images of gitops-agent, one build for both binaries:
#   target gitops-agent           the MCP/A2A agent server  -> ghcr.io/gitops-agent/gitops-agent
#   target gitops-agent-operator  the operator              -> ghcr.io/gitops-agent/gitops-agent-operator
#
#   SOURCE=dockerfile scripts/image.sh      # both images, with docker or podman
#   docker build --target gitops-agent -t ghcr.io/gitops-agent/gitops-agent:0.1.0 .
#
# This is the path for engines that reach a registry (rust and distroless bases are pulled).
# `make image` builds the same two images with no registry at all: FROM scratch, from this
# machine's release build (images/Containerfile, scripts/image.sh).
#
# The binaries are linked statically against musl (LIBC=musl, the default) and run on distroless
# "static" as uid/gid 65532 (distroless "nonroot", the uid the operator's and the charts' pod
# security contexts set). They write nothing but /tmp (an emptyDir in the pods), so a read-only
# root filesystem works. LIBC=gnu builds glibc binaries instead; run those on a base with the C
# runtime: --build-arg LIBC=gnu --build-arg BASE_IMAGE=gcr.io/distroless/cc-debian12:nonroot.
# Multi-arch (amd64, arm64) builds each platform natively (buildx with QEMU, or one builder per
# architecture): the C parts of the TLS library (ring) need a compiler of the target's own libc.

ARG RUST_VERSION=1.95
ARG BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot

# ------------------------------------------------------------------------------------------------
FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS builder
ARG LIBC=musl
ARG TARGETARCH
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# musl-gcc compiles ring's C and assembly for the musl target. Its version is the one of the
# Debian release the rust image is built on (pinned by the image tag).
# hadolint ignore=DL3008
RUN if [ "$LIBC" = musl ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends musl-tools \
        && rm -rf /var/lib/apt/lists/*; \
    fi

# The Rust target for this platform and libc.
RUN set -eu; \
    arch="${TARGETARCH:-$(dpkg --print-architecture)}"; \
    case "$arch" in \
        amd64) cpu=x86_64 ;; \
        arm64) cpu=aarch64 ;; \
        *) echo "unsupported architecture: $arch (amd64 and arm64 are)" >&2; exit 1 ;; \
    esac; \
    case "$LIBC" in \
        musl|gnu) ;; \
        *) echo "LIBC must be musl or gnu, not $LIBC" >&2; exit 1 ;; \
    esac; \
    echo "${cpu}-unknown-linux-${LIBC}" > /rust-target; \
    rustup target add "$(cat /rust-target)"

# The release profile is Cargo.toml's, the one `make image` ships.
ENV CC_x86_64_unknown_linux_musl=musl-gcc \
    CC_aarch64_unknown_linux_musl=musl-gcc \
    CARGO_TERM_COLOR=never

WORKDIR /src
# The whole workspace (every member's manifest must be there for --locked), nothing else
# (.dockerignore keeps target/, the charts, scripts, tests and docs out of the context).
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates

# Package gitops-agent-server builds the binary gitops-agent; gitops-agent-controller builds
# gitops-agent-operator. The registry and target caches persist between builds (BuildKit/buildah).
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    set -eu; \
    target="$(cat /rust-target)"; \
    cargo build --release --locked --target "$target" -p gitops-agent-server -p gitops-agent-controller; \
    mkdir -p /out; \
    cp "target/$target/release/gitops-agent" "target/$target/release/gitops-agent-operator" /out/; \
    if [ "$LIBC" = musl ]; then \
        for bin in /out/*; do \
            if readelf -l "$bin" | grep -q 'program interpreter'; then echo "$bin is not static" >&2; exit 1; fi; \
        done; \
    fi; \
    /out/gitops-agent --version; \
    /out/gitops-agent-operator --version

# ------------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS gitops-agent
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="gitops-agent" \
      org.opencontainers.image.description="MCP and A2A agent server answering questions about a cluster's Flux CD GitOps state" \
      org.opencontainers.image.source="https://github.com/gitops-agent/gitops-agent" \
      org.opencontainers.image.url="https://github.com/gitops-agent/gitops-agent" \
      org.opencontainers.image.documentation="https://github.com/gitops-agent/gitops-agent#agent-server" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=builder --chown=0:0 --chmod=0555 /out/gitops-agent /usr/local/bin/gitops-agent
USER 65532:65532
# MCP/A2A/health on 8080, Prometheus metrics on 9090.
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/gitops-agent"]
CMD ["serve"]

# ------------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS gitops-agent-operator
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="gitops-agent-operator" \
      org.opencontainers.image.description="Kubernetes operator reconciling GitOpsAgent resources into hardened deployments of the gitops-agent server" \
      org.opencontainers.image.source="https://github.com/gitops-agent/gitops-agent" \
      org.opencontainers.image.url="https://github.com/gitops-agent/gitops-agent" \
      org.opencontainers.image.documentation="https://github.com/gitops-agent/gitops-agent#install-the-operator" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=builder --chown=0:0 --chmod=0555 /out/gitops-agent-operator /usr/local/bin/gitops-agent-operator
USER 65532:65532
# /healthz, /readyz and /metrics.
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/gitops-agent-operator"]
CMD ["run"]
