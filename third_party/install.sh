#!/usr/bin/env bash
# Installs every Debian package skein's build, tests and scripts need.
# Idempotent: does nothing when all packages are present. Needs root (or sudo)
# only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libdnnl-dev        # oneDNN 2.6: matmul for linear layers
  libxsimd-dev       # xsimd 8.1: SIMD kernels
  libcxxopts-dev     # CLI option parsing
  doctest-dev        # unit tests
  nlohmann-json3-dev # model.json and safetensors headers
  python3-torch python3-numpy # PyTorch reference model, exporter, parity tests
  libopenblas0-pthread # BLAS for torch and numpy in the training scripts (models/*/MODEL.md: LD_LIBRARY_PATH)
  python3-dev pybind11-dev python3-pybind11 # the Python module (python/): headers of /usr/bin/python3 and pybind11
  clang libclang-rt-14-dev libomp-dev # libFuzzer targets (tests/fuzz): clang 14, its sanitizer/fuzzer runtimes, OpenMP for clang
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "third_party/install.sh: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
