#!/usr/bin/env bash
# Builds what bench/gpu/run.sh needs on a GPU host that has no network and no npm, into
# bench/out/gpu-bundle (ignored by git; name it in the device tool's `carry`):
#   node.xz      this machine's Node 20 binary, for a host without Node 20
#   app.tar.xz   the compiled project (src, bench/forward, bench/gpu/{generate,summary}), bin/mdlm.js and
#                its production node_modules, onnxruntime-node trimmed to linux-x64
#   debs/        the Vulkan loader and GL dispatch packages the device README names, for WebGPU
# Checkpoints and exports are never carried: run.sh makes them on the host.
# The whole working tree that travels must stay under 64 MiB; this prints where it stands.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUNDLE=$ROOT/bench/out/gpu-bundle
STAGE=$BUNDLE/stage
APP=$STAGE/app
LIMIT_MIB=64

cd "$ROOT"
[ "$(dpkg --print-architecture)" = amd64 ] || { echo "pack.sh: the GPU host is x86-64; pack on an amd64 machine" >&2; exit 1; }
node --version | grep -q '^v20\.' || { echo "pack.sh: needs Node 20 (found $(node --version))" >&2; exit 1; }

rm -rf "$BUNDLE"
mkdir -p "$APP/bin" "$BUNDLE/debs"

echo "compiling src, bench/forward.ts, bench/gpu/generate.ts and bench/gpu/summary.ts"
node_modules/.bin/tsc -p bench/gpu/tsconfig.json
cp package.json "$APP/"
# bin/mdlm.js loads ../dist/cli/main.js; the bundle compiles src to ../src instead.
sed 's#\.\./dist/#../src/#' bin/mdlm.js > "$APP/bin/mdlm.js"

echo "copying production dependencies"
npm ls --omit=dev --parseable --all 2>/dev/null | tail -n +2 | sed "s#^$ROOT/##" > "$STAGE/packages.txt"
tar -cf - -T "$STAGE/packages.txt" | tar -xf - -C "$APP"
# onnxruntime-node ships every platform's binaries; the host is linux-x64.
ORT_BIN=$APP/node_modules/onnxruntime-node/bin/napi-v6
find "$ORT_BIN" -mindepth 1 -maxdepth 2 -not -path "$ORT_BIN/linux" -not -path "$ORT_BIN/linux/x64" -exec rm -rf {} +
if [ -e "$ORT_BIN/linux/x64/libonnxruntime_providers_cuda.so" ]; then
  echo "note: this node_modules has the CUDA provider; it is carried (check the size below)"
else
  echo "note: no CUDA provider in node_modules (.npmrc skips it and NuGet is out of reach here); run.sh will report cuda as unavailable"
fi

echo "compressing"
tar -C "$STAGE" -cf - app | xz -T0 -9 > "$BUNDLE/app.tar.xz"
xz -T0 -9 -c "$(command -v node)" > "$BUNDLE/node.xz"
rm -rf "$STAGE"

echo "downloading the Vulkan loader packages (see the device README)"
(cd "$BUNDLE/debs" && apt-get download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
ls "$BUNDLE/debs"/libvulkan1_*.deb > /dev/null

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
bundle_bytes=$(du -sb "$BUNDLE" | cut -f1)
# What the device tool sends besides the carried bundle: tracked and untracked-not-ignored files.
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
echo
du -b "$BUNDLE"/node.xz "$BUNDLE"/app.tar.xz "$BUNDLE"/debs/*.deb | awk '{ printf "%10.1f MiB  %s\n", $1 / 1048576, $2 }'
echo "bundle $(mib "$bundle_bytes") MiB + working tree $(mib "$tree_bytes") MiB = $(mib $((bundle_bytes + tree_bytes))) MiB of $LIMIT_MIB MiB"
if [ $((bundle_bytes + tree_bytes)) -gt $((LIMIT_MIB * 1048576)) ]; then
  echo "pack.sh: over the device tool's $LIMIT_MIB MiB limit" >&2
  exit 1
fi
