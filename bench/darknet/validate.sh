#!/bin/sh
# Imports every cfg of Debian's darknet package, checks the spec, loads the cfg in darknet and compares
# the layers' output shapes and BFLOPs; writes docs/darknet-validation.md.
#   bench/darknet/validate.sh [DLSPEC_BINARY]   (default build-imp/compiler/dlspec)
# Shapes and BFLOPs are those of `dlspec summary --format=json` of each generated spec. Set
# DARKNET_TABLE_CACHE=DIR to keep darknet's printed tables between runs (darknet takes ~5 s per cfg).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
exec python3 "$root/bench/darknet/compare.py" --root "$root" --dlspec "${1:-$root/build-imp/compiler/dlspec}" \
  --cfg-dir /usr/share/darknet/cfg --out "$root/docs/darknet-validation.md"
