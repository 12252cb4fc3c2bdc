#!/usr/bin/env bash
# Prints the path of a Node.js binary whose major version is at least MIN_MAJOR (default 22), for
# the test scripts that run npm packages (the A2A JavaScript SDK client of tests/protocol).
#
#   node=$(scripts/node.sh [MIN_MAJOR])
#
# Which Node, in order:
#   1. $NODE_BIN, if set (it must be new enough; nothing else is tried);
#   2. the pinned Node that scripts/mcp-conformance.sh installs from npm (node-<os>-<arch>) into
#      target/conformance, if it is there;
#   3. otherwise that same pinned Node, installed the same way into the same place (needs npm), so
#      both scripts share one copy;
#   4. if that install fails (offline, say), the system `node`, if new enough.
# The path goes to stdout; progress and errors go to stderr. Exits 1 when no Node is good enough.
#
# NODE_VERSION must stay equal to NODE_VERSION in scripts/mcp-conformance.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_VERSION=22.23.3
min_major=${1:-22}
dir=target/conformance

major_of() { # the major version of a Node binary, or nothing if it does not run
    "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || true
}
good_enough() {
    local major
    major=$(major_of "$1")
    [ -n "$major" ] && [ "$major" -ge "$min_major" ]
}

if [ -n "${NODE_BIN:-}" ]; then
    if good_enough "$NODE_BIN"; then
        echo "$NODE_BIN"
        exit 0
    fi
    echo "error: NODE_BIN=$NODE_BIN is not a Node >= $min_major (it reports '$(major_of "$NODE_BIN")')" >&2
    exit 1
fi

case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) arch="" ;;
esac
node_pkg="node-$(uname -s | tr '[:upper:]' '[:lower:]')-$arch"
pinned="$dir/node_modules/$node_pkg/bin/node"

if [ -n "$arch" ]; then
    if [ ! -x "$pinned" ]; then
        if command -v npm >/dev/null; then
            echo "installing $node_pkg@$NODE_VERSION into $dir" >&2
            mkdir -p "$dir"
            npm install --prefix "$dir" --save-exact --no-audit --no-fund --loglevel=error \
                "$node_pkg@$NODE_VERSION" >&2 || echo "warning: could not install $node_pkg@$NODE_VERSION" >&2
        else
            echo "warning: npm is not installed, so $node_pkg@$NODE_VERSION cannot be installed" >&2
        fi
    fi
    if [ -x "$pinned" ] && good_enough "$pinned"; then
        echo "$PWD/$pinned"
        exit 0
    fi
else
    echo "warning: no node-<os>-$(uname -m) package on npm; trying the system node" >&2
fi

system=$(command -v node || true)
if [ -n "$system" ] && good_enough "$system"; then
    echo "$system"
    exit 0
fi
echo "error: no Node.js >= $min_major: the pinned $node_pkg@$NODE_VERSION is not available" \
    "and the system node is ${system:+Node $(major_of "$system") at }${system:-missing}; set NODE_BIN to one" >&2
exit 1
