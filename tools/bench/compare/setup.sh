#!/usr/bin/env bash
# Installs what `tools/bench/compare` needs beyond the project's own dependencies
# and says what it installs:
#   - Node.js and npm (Debian's `nodejs npm`, via apt-get) when `node` or `npm` is missing;
#   - the npm package onnxruntime-node (pinned below; its tarball ships the CPU
#     ONNX Runtime library) into DIR/node_modules. ONNXRUNTIME_NODE_INSTALL=skip
#     stops its install script from downloading GPU providers, which fails offline.
#
#   tools/bench/compare/setup.sh DIR      # e.g. build/compare
#
# Idempotent: does nothing when DIR already holds the pinned version.
# Prints the ONNX Runtime version on its last line.
set -euo pipefail

ORT_NODE_VERSION=1.30.0
dir=${1:?usage: setup.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "compare setup: installing Debian packages nodejs npm (node or npm missing)" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends nodejs npm
fi

installed() {
  node -e "process.stdout.write(require('$dir/node_modules/onnxruntime-node/package.json').version)" 2>/dev/null
}

if [ "$(installed)" != "$ORT_NODE_VERSION" ]; then
  echo "compare setup: installing npm package onnxruntime-node@$ORT_NODE_VERSION into $dir/node_modules" >&2
  [ -f "$dir/package.json" ] || echo '{"name": "skein-compare", "private": true}' >"$dir/package.json"
  (cd "$dir" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --loglevel=error \
    "onnxruntime-node@$ORT_NODE_VERSION" >&2)
fi
node -e "
const ort = require('$dir/node_modules/onnxruntime-node');
console.log('onnxruntime-node ' + '$(installed)' + ', node ' + process.version +
            ', ONNX Runtime ' + (ort.env.versions ? ort.env.versions.common : '?'));"
