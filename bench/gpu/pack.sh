#!/usr/bin/env bash
# Builds what bench/gpu/run.sh needs on the GPU host (no network, no Node.js, no npm), in two
# parts under bench/gpu/out/ (ignored by git), each small enough for one device call:
#
#   provider/cuda-provider.tar.xz  onnxruntime 1.29.0's CUDA 13 provider, from the npm package
#                                  com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9, its fatbins
#                                  cut to sm_90 (H100/H200) by bench/gpu/fatbin.ts: 230 MB that xz
#                                  takes only to 157 MiB become 37 MiB, every sm_90 kernel kept
#   base/node.xz                   this machine's Node 20, stripped
#   base/app.tar.xz                the compiled server, bench/forward and bench/gpu, bin/mdlm.js,
#                                  the production dependencies and autocannon, with
#                                  onnxruntime-node 1.29.0 (the provider's version) for linux-x64
#   base/debs/                     the Vulkan loader packages the device README names, for WebGPU
#   */SHA256SUMS                   checked by run.sh before it unpacks anything
#
# The project's own onnxruntime-node (^1.30, in node_modules) is not touched: 1.29.0 is installed
# with --ignore-scripts into a staging folder. Checkpoints never travel: run.sh makes them there.
# The device calls are in bench/gpu/README.md. Run from anywhere: bash bench/gpu/pack.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/bench/gpu/out
CACHE=$OUT/cache
STAGE=$OUT/stage
APP=$STAGE/app
ORT_VERSION=1.29.0
PROVIDER_PACKAGE=com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9
# What the registry served when this route was checked (npm pack also checks the registry's own).
PROVIDER_SHA1=4fba8272b000ed4b6789715f67b67d2447fab198
KEEP_ARCH=90
# The device tool's limit is 64 MiB for the working tree and the carried part together.
PART_LIMIT_MIB=60

cd "$ROOT"
[ "$(dpkg --print-architecture)" = amd64 ] || { echo "pack.sh: the GPU host is x86-64; pack on an amd64 machine" >&2; exit 1; }
node --version | grep -q '^v20\.' || { echo "pack.sh: needs Node 20 (found $(node --version))" >&2; exit 1; }
[ -x node_modules/.bin/tsc ] || { echo "pack.sh: run npm ci first" >&2; exit 1; }

rm -rf "$STAGE" "$OUT/base"
mkdir -p "$CACHE" "$APP/bin" "$OUT/base/debs"

# The provider part depends only on the package and on fatbin.ts: made once, then reused.
PROVIDER_KEY="$PROVIDER_SHA1 $(sha256sum bench/gpu/fatbin.ts | cut -c1-64) sm_$KEEP_ARCH"
if [ "$(cat "$OUT/provider/KEY" 2> /dev/null)" = "$PROVIDER_KEY" ] && (cd "$OUT/provider" && sha256sum --quiet -c SHA256SUMS); then
  echo "== the CUDA 13 provider: bench/gpu/out/provider is up to date"
else
  echo "== the CUDA 13 provider ($PROVIDER_PACKAGE)"
  rm -rf "$OUT/provider" && mkdir -p "$OUT/provider"
  tarball=$CACHE/${PROVIDER_PACKAGE/@/-}.tgz
  if ! echo "$PROVIDER_SHA1  $tarball" | sha1sum -c --status 2> /dev/null; then
    (cd "$CACHE" && npm pack --silent "$PROVIDER_PACKAGE" > /dev/null)
    echo "$PROVIDER_SHA1  $tarball" | sha1sum -c --status || { echo "pack.sh: $tarball is not the tarball this route was checked with" >&2; exit 1; }
  fi
  mkdir -p "$STAGE/provider/x64"
  tar -xzf "$tarball" -C "$STAGE/provider" package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so package/Plugins/Linux/x64/libonnxruntime_providers_shared.so
  node --import tsx bench/gpu/fatbin.ts strip --arch "$KEEP_ARCH" "$STAGE/provider/package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so" "$STAGE/provider/x64/libonnxruntime_providers_cuda.so"
  cp "$STAGE/provider/package/Plugins/Linux/x64/libonnxruntime_providers_shared.so" "$STAGE/provider/x64/"
  tar -C "$STAGE/provider" -cf - x64 | xz -T0 -9 > "$OUT/provider/cuda-provider.tar.xz"
  (cd "$OUT/provider" && sha256sum cuda-provider.tar.xz > SHA256SUMS)
  echo "$PROVIDER_KEY" > "$OUT/provider/KEY"
fi

echo "== onnxruntime-node $ORT_VERSION (--ignore-scripts: no download from NuGet)"
mkdir -p "$STAGE/ort"
echo '{"private":true}' > "$STAGE/ort/package.json"
(cd "$STAGE/ort" && npm install --silent --ignore-scripts --no-audit --no-fund --omit=dev "onnxruntime-node@$ORT_VERSION")

echo "== the server and the benches (tsc)"
node_modules/.bin/tsc -p bench/gpu/tsconfig.json
cp package.json "$APP/"
# bin/mdlm.js loads ../dist/cli/main.js; the bundle compiles src to ../src instead.
sed 's#\.\./dist/#../src/#' bin/mdlm.js > "$APP/bin/mdlm.js"
mkdir -p "$APP/src/playground"
cp -r src/playground/assets "$APP/src/playground/"

echo "== production dependencies and autocannon"
npm query '.prod, #autocannon, #autocannon *' | node -e "for (const p of JSON.parse(require('fs').readFileSync(0, 'utf8'))) if (p.location) console.log(p.location)" | sort -u > "$STAGE/packages.txt"
tar -cf - -T "$STAGE/packages.txt" | tar -xf - -C "$APP"
for package in onnxruntime-node onnxruntime-common; do
  rm -rf "$APP/node_modules/$package"
  cp -r "$STAGE/ort/node_modules/$package" "$APP/node_modules/"
done
# onnxruntime-node ships every platform's binaries; the host is linux-x64.
ORT_BIN=$APP/node_modules/onnxruntime-node/bin/napi-v6
find "$ORT_BIN" -mindepth 1 -maxdepth 2 -not -path "$ORT_BIN/linux" -not -path "$ORT_BIN/linux/x64" -exec rm -rf {} +
tar -C "$STAGE" -cf - app | xz -T0 -9 > "$OUT/base/app.tar.xz"

echo "== Node $(node --version), stripped"
cp "$(command -v node)" "$STAGE/node"
strip "$STAGE/node"
xz -T0 -9 -c "$STAGE/node" > "$OUT/base/node.xz"

echo "== the Vulkan loader packages (WebGPU, optional)"
(cd "$OUT/base/debs" && apt-get download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
rm -rf "$STAGE"

(cd "$OUT/base" && find . -type f ! -name SHA256SUMS | sort | xargs sha256sum > SHA256SUMS)

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
# What travels with every call besides the carried part: tracked and untracked-not-ignored files.
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s 2> /dev/null | awk '{ s += $1 } END { print s + 0 }')
echo
find "$OUT/provider" "$OUT/base" -type f | sort | xargs du -b | awk '{ printf "%10.1f MiB  %s\n", $1 / 1048576, $2 }'
status=0
for part in provider base; do
  part_bytes=$(du -sb "$OUT/$part" | cut -f1)
  total=$((part_bytes + tree_bytes))
  echo "call carrying bench/gpu/out/$part: $(mib "$part_bytes") MiB + working tree $(mib "$tree_bytes") MiB = $(mib $total) MiB (limit $PART_LIMIT_MIB of the tool's 64)"
  [ $total -le $((PART_LIMIT_MIB * 1048576)) ] || { echo "pack.sh: bench/gpu/out/$part is over the limit" >&2; status=1; }
done
exit $status
