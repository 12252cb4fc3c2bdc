#!/usr/bin/env bash
# Builds the two binaries the way they ship (the images, make bench): the [profile.release] of
# Cargo.toml, with cargo-auditable embedding the list of compiled-in crates in each binary
# (section .dep-v0, read by trivy, grype and syft). Installs cargo-auditable from crates.io when
# it is missing. Output: target/release/gitops-agent and target/release/gitops-agent-operator.
#
#   PROFILE=dev scripts/release-build.sh   # the same from the debug profile (target/debug), to try things out
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo auditable --version >/dev/null 2>&1; then
    echo "release-build: installing cargo-auditable (crates.io)"
    cargo install cargo-auditable --locked --version 0.7.7
fi
exec cargo auditable build --profile "${PROFILE:-release}" --locked -p gitops-agent-server -p gitops-agent-controller
