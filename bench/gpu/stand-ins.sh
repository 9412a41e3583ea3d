#!/usr/bin/env bash
# For run.sh --dry-run on a machine without a GPU: the libraries the CUDA provider links against,
# so that onnxruntime loads it and gets as far as it can without a GPU.
#
#   bash bench/gpu/stand-ins.sh PROVIDER.so OUT_DIR
#
# - libcudart.so.13 is the real CUDA 13 runtime where this machine has one (here: /usr/local/cuda-13.0,
#   the nvidia-cuda-runtime 13.0 that came with nvcc): it is what fails at cudaSetDevice without a driver.
# - libcuda.so.1 (the driver's), libcublas.so.13, libcublasLt.so.13 and libcurand.so.10 are stand-ins
#   built here with gcc: the right sonames, and every symbol the provider imports from them with its
#   version, as empty functions. Nothing calls them: device initialisation fails first. Neither the npm
#   registry nor Debian (11.8 in bookworm's non-free) carries CUDA 13's cuBLAS.
set -euo pipefail

PROVIDER=$(readlink -f "$1")
OUT=$2
mkdir -p "$OUT"
cd "$OUT"

# Imported symbols by the library whose version names them: "libcublas.so.13 cublasCreate_v2".
imports=$(objdump -T "$PROVIDER" | awk '/\*UND\*/ && $(NF-1) ~ /^\(lib/ { gsub(/[()]/, "", $(NF-1)); print $(NF-1), $NF }')

for soname in libcuda.so.1 libcublas.so.13 libcublasLt.so.13 libcurand.so.10; do
  symbols=$(echo "$imports" | awk -v lib="$soname" '$1 == lib { print $2 }')
  : > "$soname.c"
  for symbol in $symbols; do echo "void $symbol(void) {}" >> "$soname.c"; done
  { echo "$soname {"; [ -n "$symbols" ] && echo "  global: $(echo $symbols | sed 's/ /; /g');"; echo "  local: *;"; echo "};"; } > "$soname.map"
  gcc -shared -fPIC -o "$soname" -Wl,-soname,"$soname" -Wl,--version-script="$soname.map" "$soname.c"
  rm "$soname.c" "$soname.map"
  echo "$soname: stand-in, $(echo "$symbols" | grep -c . || true) symbols"
done

cudart=$(ldconfig -p | awk '/libcudart\.so\.13 / { print $NF; exit }')
[ -n "$cudart" ] || cudart=$(ls /usr/local/cuda*/lib*/libcudart.so.13 2> /dev/null | head -1)
if [ -n "$cudart" ]; then
  ln -sf "$(readlink -f "$cudart")" libcudart.so.13
  echo "libcudart.so.13: the real CUDA 13 runtime, $(readlink -f "$cudart")"
else
  echo "libcudart.so.13: none on this machine, so onnxruntime will stop at loading the provider, before the device" >&2
fi
