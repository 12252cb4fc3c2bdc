#!/usr/bin/env bash
# Builds both images from this machine's release build (scripts/image.sh) and runs them
# (tests/image/, podman): contents, labels, the dependency list in the binaries, the SBOMs, each
# entrypoint started from its own image hardened as the pods are (the agent serving /healthz and
# MCP, the operator reconciling an agent, both against the embedded API server), and podman kube
# play of the Deployment the operator renders. Prints the images' sizes, digests and SBOM paths.
#
# Without buildah/podman this says so and exits 0, unless IMAGE_TESTS_REQUIRED=1 (.ci/run sets it),
# which makes a missing engine a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v podman >/dev/null 2>&1 || ! { command -v buildah >/dev/null 2>&1 || command -v docker >/dev/null 2>&1; }; then
    msg="image tests: podman and buildah (or docker) are needed to build and run the images (apt-get install buildah podman runc)"
    if [ "${IMAGE_TESTS_REQUIRED:-0}" = 1 ]; then
        echo "$msg" >&2
        exit 1
    fi
    echo "$msg; skipped"
    exit 0
fi
scripts/image.sh
scripts/pytest-venv.sh target/image-venv tests/image/requirements.txt tests/image "$@"
if [ -f target/image-tests/kube-play.txt ]; then
    echo "---- podman kube play of the rendered Deployment (target/image-tests/kube-play.txt)"
    cat target/image-tests/kube-play.txt
fi
