#!/usr/bin/env bash
# Builds the two images from the Dockerfile with docker (BuildKit) or podman:
#   $REGISTRY/gitops-agent:$TAG            (target gitops-agent: the agent server)
#   $REGISTRY/gitops-agent-operator:$TAG   (target gitops-agent-operator: the operator)
# These are the names the operator and the charts use (the GitOpsAgent default image
# ghcr.io/gitops-agent/gitops-agent, the operator image ghcr.io/gitops-agent/gitops-agent-operator),
# tagged with the workspace version, which is also the operator's default agent tag.
#
# Environment:
#   REGISTRY   default ghcr.io/gitops-agent
#   TAG        default the version in Cargo.toml ([workspace.package] version)
#   PLATFORMS  e.g. linux/amd64,linux/arm64 (docker buildx or podman --platform); default: this machine's.
#              With docker, several platforms need PUSH=1 (or the containerd image store to --load them)
#   PUSH=1     push the images after building (with PLATFORMS and docker: buildx --push)
#   LIBC       musl (default, static binaries on distroless/static) or gnu (then set BASE_IMAGE)
#   BASE_IMAGE base of the final images (default in the Dockerfile: gcr.io/distroless/static-debian12:nonroot)
#   ENGINE     docker or podman, to choose when both are there
#
# Options: --dry-run prints the commands instead of running them (needs no container engine).
# Exit status 2: no usable container engine (neither a docker daemon nor podman).
set -euo pipefail
cd "$(dirname "$0")/.."

dry_run=0
for arg in "$@"; do
    case "$arg" in
        --dry-run) dry_run=1 ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "image.sh: unknown argument $arg (see --help)" >&2; exit 64 ;;
    esac
done

usable() {
    case "$1" in
        docker) command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 ;;
        podman) command -v podman >/dev/null 2>&1 && podman info >/dev/null 2>&1 ;;
        *) return 1 ;;
    esac
}

engine="${ENGINE:-}"
if [ -n "$engine" ]; then
    if ! usable "$engine" && [ "$dry_run" = 0 ]; then
        echo "image.sh: ENGINE=$engine is not usable here (not installed, or its daemon/service is not running)" >&2
        exit 2
    fi
else
    for candidate in docker podman; do
        if usable "$candidate"; then engine="$candidate"; break; fi
    done
fi
if [ -z "$engine" ]; then
    if [ "$dry_run" = 1 ]; then
        engine=docker
    else
        {
            echo "image.sh: no container engine to build the images with."
            if command -v docker >/dev/null 2>&1; then
                echo "  docker is installed but its daemon does not answer (docker info failed): start it, or point DOCKER_HOST at one."
            fi
            echo "  Install Docker (with BuildKit) or Podman, then run: make image"
            echo "  scripts/image.sh --dry-run prints the build commands."
        } >&2
        exit 2
    fi
fi

version="$(awk '/^\[workspace.package\]/ {p=1; next} /^\[/ {p=0} p && $1 == "version" {gsub(/"/, "", $3); print $3; exit}' Cargo.toml)"
if [ -z "$version" ]; then
    echo "image.sh: no [workspace.package] version in Cargo.toml" >&2
    exit 1
fi
registry="${REGISTRY:-ghcr.io/gitops-agent}"
tag="${TAG:-$version}"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

build_args=(--build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "CREATED=$created")
[ -n "${LIBC:-}" ] && build_args+=(--build-arg "LIBC=$LIBC")
[ -n "${BASE_IMAGE:-}" ] && build_args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")

run() {
    printf '+'
    printf ' %q' "$@"
    printf '\n'
    if [ "$dry_run" = 0 ]; then "$@"; fi
}

for image in gitops-agent gitops-agent-operator; do
    ref="$registry/$image:$tag"
    if [ "$engine" = docker ]; then
        if [ -n "${PLATFORMS:-}" ]; then
            out=(--load)
            [ "${PUSH:-0}" = 1 ] && out=(--push)
            run docker buildx build --platform "$PLATFORMS" "${out[@]}" --target "$image" -t "$ref" "${build_args[@]}" .
            continue
        fi
        run env DOCKER_BUILDKIT=1 docker build --target "$image" -t "$ref" "${build_args[@]}" .
    else
        platform=()
        [ -n "${PLATFORMS:-}" ] && platform=(--platform "$PLATFORMS" --manifest "$ref")
        if [ -n "${PLATFORMS:-}" ]; then
            run podman build "${platform[@]}" --target "$image" "${build_args[@]}" .
        else
            run podman build --target "$image" -t "$ref" "${build_args[@]}" .
        fi
    fi
    if [ "${PUSH:-0}" = 1 ]; then
        if [ "$engine" = podman ] && [ -n "${PLATFORMS:-}" ]; then
            run podman manifest push --all "$ref" "docker://$ref"
        else
            run "$engine" push "$ref"
        fi
    fi
done
if [ "$dry_run" = 1 ]; then
    echo "image.sh: dry run; would build $registry/gitops-agent:$tag and $registry/gitops-agent-operator:$tag with $engine"
else
    echo "image.sh: built $registry/gitops-agent:$tag and $registry/gitops-agent-operator:$tag with $engine"
fi
