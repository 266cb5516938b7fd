#!/usr/bin/env bash
# Installs the Debian packages dlspec needs. Quick when they are already there.
# Usage: scripts/deps.sh [build|test|train|bench|fuzz|editor|all]
set -euo pipefail
what=${1:-build}
build=(cmake g++ make ninja-build pkg-config antlr4 libantlr4-runtime-dev llvm-19-dev libfmt-dev nlohmann-json3-dev catch2 zlib1g-dev libpng-dev libjpeg62-turbo-dev libdnnl-dev libdtl-dev
       ocl-icd-opencl-dev libzstd-dev libxml2-dev libedit-dev libffi-dev libcurl4-openssl-dev
       libonnx-dev libprotobuf-dev libopenmpi-dev openmpi-bin)
data=(dataset-fashion-mnist)
tools=(graphviz)
peer=(python3-torch python3-numpy python3-jsonschema python3-onnx python3-opencv python3-scipy python3-torchvision libonnx-testdata python3-sklearn)
fuzz=(clang-19 libclang-rt-19-dev)
darknet=(darknet)
editor=(nodejs npm)  # the VS Code extension (scripts/vscode-extension.sh)
case "$what" in
  build) want=("${build[@]}") ;;
  train) want=("${build[@]}" "${data[@]}" "${tools[@]}") ;;
  test)  want=("${build[@]}" "${data[@]}" "${tools[@]}" "${peer[@]}" "${darknet[@]}") ;;
  bench) want=("${build[@]}" "${data[@]}" "${peer[@]}" "${darknet[@]}") ;;
  fuzz)  want=("${build[@]}" "${fuzz[@]}") ;;
  # A Node.js that brings its own npm (NodeSource's nodejs conflicts with Debian's npm package) is enough.
  editor) command -v node >/dev/null && command -v npm >/dev/null && exit 0; want=("${editor[@]}") ;;
  all)   want=("${build[@]}" "${data[@]}" "${tools[@]}" "${peer[@]}" "${fuzz[@]}" "${darknet[@]}" "${editor[@]}") ;;
  *) echo "deps.sh: unknown set '$what' (build|test|train|bench|fuzz|editor|all)" >&2; exit 2 ;;
esac
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "dlspec: installing ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
