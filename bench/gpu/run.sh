#!/usr/bin/env bash
# The GPU bench, for a host with no network and no Node.js (the device tool's machine), from the
# parts bench/gpu/pack.sh leaves in bench/gpu/out/. The device calls are in bench/gpu/README.md:
#
#   bash bench/gpu/run.sh --preflight   call 1 (carries out/provider): checks the provider part,
#                                       the GPU, the CUDA 13 libraries and the stripped fatbins
#   bash bench/gpu/run.sh               call 2 (carries out/base, out/provider still there): the bench
#   bash bench/gpu/run.sh --dry-run     here, on a CPU: the small shape; CUDA through stand-in
#                                       libraries (bench/gpu/stand-ins.sh) must fail at device
#                                       initialisation, and the CPU runs every step
#
# On the host it makes the owt-shape synthetic checkpoint and its fp16 and fp32 exports (weights
# never travel), checks `mdlm generate --device cuda` and `--device auto`, times PyTorch's bf16
# forward pass as the reference, our forward pass (B = 1, 8, 32), the server's own ddpm_cache
# generation (T = 1000, 5000, 10 000) and /v1/completions under autocannon through `mdlm serve`
# on each provider, and prints one table at the end. A provider that cannot start is reported
# with its reason and skipped.
#
# Environment (defaults are the real run's; --dry-run changes those marked *):
#   MDLM_BENCH_SHAPE         * synth preset: owt, small, tiny
#   MDLM_BENCH_PROVIDERS     * providers to measure, in order (default "cuda webgpu")
#   MDLM_BENCH_BATCHES         forward-pass batch sizes (default "1 8 32")
#   MDLM_BENCH_STEPS         * ddpm_cache steps T (default "1000 5000 10000")
#   MDLM_BENCH_CONCURRENCY   * autocannon connections (default "1 8 32")
#   MDLM_BENCH_HTTP_S        * seconds per concurrency level (default 10)
#   MDLM_BENCH_HTTP_TOKENS   * max_tokens and steps of each request (default 128)
#   MDLM_BENCH_BUDGET_S      * seconds for the whole script; a step that would start with less than
#                              it needs is skipped and says so (default 330: with call 1 and the
#                              machine's start it keeps to about 8 of the 15 device minutes)
#   MDLM_BENCH_CUDA_LIBS       library folders searched before PyTorch's (the dry run's stand-ins)
#   MDLM_BENCH_WORK            scratch folder (default /tmp/mdlm-gpu-bench)
# Results go to $OUT (the device tool's folder) if set, else to the scratch folder:
# results.jsonl (one measurement a line), summary.md (the table) and, with --preflight, preflight.txt.
set -uo pipefail

MODE=bench
case "${1:-}" in
  --preflight) MODE=preflight ;;
  --dry-run) MODE=dry-run ;;
  '') ;;
  *) echo "usage: bash bench/gpu/run.sh [--preflight | --dry-run]" >&2; exit 2 ;;
esac
dry() { [ $MODE = dry-run ]; }

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PARTS=$ROOT/bench/gpu/out
SHAPE=${MDLM_BENCH_SHAPE:-$(dry && echo small || echo owt)}
PROVIDERS=${MDLM_BENCH_PROVIDERS:-$(dry && echo cuda cpu || echo cuda webgpu)}
BATCHES=${MDLM_BENCH_BATCHES:-1 8 32}
STEPS=${MDLM_BENCH_STEPS:-$(dry && echo 100 || echo 1000 5000 10000)}
CONCURRENCY=${MDLM_BENCH_CONCURRENCY:-$(dry && echo 1 8 || echo 1 8 32)}
HTTP_S=${MDLM_BENCH_HTTP_S:-$(dry && echo 5 || echo 10)}
HTTP_TOKENS=${MDLM_BENCH_HTTP_TOKENS:-$(dry && echo 16 || echo 128)}
BUDGET_S=${MDLM_BENCH_BUDGET_S:-$(dry && echo 900 || echo 330)}
WORK=${MDLM_BENCH_WORK:-/tmp/mdlm-gpu-bench}
RESULTS_DIR=${OUT:-$WORK}
RESULTS=$RESULTS_DIR/results.jsonl
STARTED=$SECONDS

# Progress goes to fd 3 (the log) so that a step's own output can be redirected to a file.
exec 3>&2
say() { printf '[%4ds] %s\n' $((SECONDS - STARTED)) "$*" >&3; }
left() { echo $((BUDGET_S - (SECONDS - STARTED))); }
die() { say "run.sh: $*"; exit 1; }

# --- the parts -----------------------------------------------------------------------------
check_part() {
  local part=$1 call=$2
  [ -f "$PARTS/$part/SHA256SUMS" ] || die "bench/gpu/out/$part is not here: $call (bench/gpu/README.md). Made by bash bench/gpu/pack.sh."
  (cd "$PARTS/$part" && sha256sum --quiet -c SHA256SUMS) >&3 || die "bench/gpu/out/$part does not match its SHA256SUMS: pack and carry it again"
  say "part $part: $(du -sh "$PARTS/$part" | cut -f1), checksums match"
}
# tar and xz where the host has them; else Python's standard library (tarfile and lzma).
untar_xz() {
  if command -v xz > /dev/null; then tar -xJf "$1" -C "$2"; else python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2], **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))' "$1" "$2"; fi
}
unxz_to() {
  if command -v xz > /dev/null; then xz -dc "$1" > "$2"; else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}

rm -rf "$WORK" && mkdir -p "$WORK" "$RESULTS_DIR" && : > "$RESULTS"
check_part provider "carry it in call 1; if call 1 ran, the machine was given back before call 2: run both again"
PROVIDER_DIR=$WORK/provider
mkdir -p "$PROVIDER_DIR" && untar_xz "$PARTS/provider/cuda-provider.tar.xz" "$PROVIDER_DIR"
PROVIDER=$PROVIDER_DIR/x64/libonnxruntime_providers_cuda.so

# --- the CUDA libraries: PyTorch's wheels (site-packages/nvidia/*/lib), the driver's libcuda --
CUDA_LIBS=(libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libcudnn.so.9)
if dry && [ -z "${MDLM_BENCH_CUDA_LIBS:-}" ]; then
  MDLM_BENCH_CUDA_LIBS=$WORK/stand-ins
  bash "$ROOT/bench/gpu/stand-ins.sh" "$PROVIDER" "$MDLM_BENCH_CUDA_LIBS" 2>&1 | sed 's/^/  stand-ins: /' >&3
fi
torch_libs=$(python3 - "${CUDA_LIBS[@]}" 2> "$WORK/libs.txt" << 'EOF'
import glob, os, sys
found = {}
for base in sys.path:
    for folder in sorted(glob.glob(os.path.join(base, "nvidia", "*", "lib"))):
        for name in sys.argv[1:]:
            if name not in found and os.path.exists(os.path.join(folder, name)):
                found[name] = folder
print(":".join(dict.fromkeys(found.values())))
for name in sys.argv[1:]:
    print(f"{name}: {found.get(name, 'not in any site-packages/nvidia/*/lib')}", file=sys.stderr)
EOF
)
DRIVER_DIR=
if ! ldconfig -p | grep -q 'libcuda\.so\.1 '; then
  for dir in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64; do
    [ -e "$dir/libcuda.so.1" ] && DRIVER_DIR=$dir && break
  done
fi
LIBRARY_PATH_FOR_NODE=$(echo "${MDLM_BENCH_CUDA_LIBS:-}:$torch_libs:$DRIVER_DIR:${LD_LIBRARY_PATH:-}" | tr -s ':' | sed 's/^://; s/:$//')
say "PyTorch's CUDA libraries: $(tr '\n' ';' < "$WORK/libs.txt")"
say "libcuda.so.1 (the driver's): $( (ldconfig -p | grep -q 'libcuda\.so\.1 ' && echo 'in the loader cache') || echo "${DRIVER_DIR:-not found}")"
say "LD_LIBRARY_PATH for Node: $LIBRARY_PATH_FOR_NODE"
unresolved=$(LD_LIBRARY_PATH=$LIBRARY_PATH_FOR_NODE ldd "$PROVIDER" | grep 'not found' | awk '{ print $1 }' | tr '\n' ' ')
say "the provider's libraries: ${unresolved:+not found: }${unresolved:-all resolve}"

# --- the host ------------------------------------------------------------------------------
cpu_flags=$(grep -m1 '^flags' /proc/cpuinfo | grep -oE '\b(avx2|avx512f|avx512_vnni|avx_vnni)\b' | sort -u | tr '\n' ' ')
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2> /dev/null | head -1)
MACHINE="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores (${cpu_flags% }); GPU: ${gpu:-none}"
say "machine: $MACHINE"
say "python: $(python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "sees", torch.cuda.device_count(), "GPU(s)")' 2>&1 | tail -1)"

if [ $MODE = preflight ]; then
  {
    echo "machine: $MACHINE"
    echo "CUDA libraries:"; cat "$WORK/libs.txt"
    echo "unresolved by ldd: ${unresolved:-none}"
    cuobjdump=$(command -v cuobjdump || ls /usr/local/cuda*/bin/cuobjdump 2> /dev/null | head -1)
    if [ -n "$cuobjdump" ]; then
      echo "$cuobjdump --list-elf of the cut provider (expect 288 sm_90 and 1 sm_120):"
      "$cuobjdump" --list-elf "$PROVIDER" 2>&1 | grep -oE 'sm_[0-9]+|error.*' | sort | uniq -c
    fi
  } | tee "$RESULTS_DIR/preflight.txt" >&3
  say "preflight done: make call 2 now, while this machine is warm (it goes back after about 30 s idle)"
  exit 0
fi

# --- Node and the server -------------------------------------------------------------------
check_part base "carry it in call 2"
unxz_to "$PARTS/base/node.xz" "$WORK/node" && chmod +x "$WORK/node"
untar_xz "$PARTS/base/app.tar.xz" "$WORK"
APP=$WORK/app
cp "$PROVIDER_DIR"/x64/*.so "$APP/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/"
NODE=(env "LD_LIBRARY_PATH=$LIBRARY_PATH_FOR_NODE" "$WORK/node")
MDLM=("${NODE[@]}" "$APP/bin/mdlm.js")
say "node: carried $("$WORK/node" --version), onnxruntime-node $("$WORK/node" -p "require('$APP/node_modules/onnxruntime-node/package.json').version") with the CUDA provider"
"${NODE[@]}" -e 'console.log(JSON.stringify({ kind: "machine", description: process.argv[1] }))' "$MACHINE" >> "$RESULTS"

# A skipped step as a result line, so that the table says why.
skip() { "${NODE[@]}" -e 'console.log(JSON.stringify({ kind: "skip", what: process.argv[1], reason: process.argv[2] }))' "$1" "$2" >> "$RESULTS"; say "skipped $1: $2"; }

# Runs "$@" with what is left of the budget (less a reserve for the summary); `need` is the
# least time the step is worth starting with. A step that fails leaves a skip line with the
# last error line it printed.
step() {
  local what=$1 need=$2
  shift 2
  local budget=$(($(left) - 15))
  if [ "$budget" -lt "$need" ]; then
    skip "$what" "not started: ${budget}s of the budget left, it needs about ${need}s"
    return 1
  fi
  say "$what"
  timeout --kill-after=5 "$budget" "$@" 2> >(tee "$WORK/step.err" >&2)
  local status=$?
  wait # for tee
  if [ $status -eq 124 ] || [ $status -eq 137 ]; then
    skip "$what" "stopped at the end of the ${BUDGET_S}s budget"
  elif [ $status -ne 0 ]; then
    skip "$what" "$( (grep -E '^error' "$WORK/step.err" || tail -n 1 "$WORK/step.err") | tail -n 1)"
  fi
  return $status
}

# WebGPU on Linux goes through Vulkan: bring the loader if the host lacks it (device README).
if [[ " $PROVIDERS " == *" webgpu "* ]] && command -v nvidia-smi > /dev/null && ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
  if [ "$(id -u)" = 0 ]; then
    for deb in "$PARTS"/base/debs/*.deb; do dpkg -x "$deb" /; done
    ldconfig
    say "vulkan: loader unpacked from $(ls "$PARTS"/base/debs | tr '\n' ' ')"
  else
    say "vulkan: no loader and not root: WebGPU will report it"
  fi
fi
NVIDIA_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -e "$NVIDIA_ICD" ] && ! ls /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json > /dev/null 2>&1; then
  export VK_DRIVER_FILES=$NVIDIA_ICD __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi

# The table, at the end or when a step without which nothing else can run has failed.
finish() {
  say "done; results in $RESULTS"
  echo
  "${NODE[@]}" "$APP/bench/gpu/summary.js" "$RESULTS" | tee "$RESULTS_DIR/summary.md"
}

# --- the CLI on the CUDA provider, on a tiny model (seconds) -------------------------------
TINY=$WORK/tiny
"${MDLM[@]}" synth --preset tiny --out "$TINY-checkpoint" > /dev/null && "${MDLM[@]}" export --checkpoint "$TINY-checkpoint" --out "$TINY" > /dev/null
indent() { sed 's/^/  /' >&3; }
say "mdlm generate --device cuda (tiny model):"
if "${MDLM[@]}" generate --model "$TINY" --device cuda --steps 16 --seed 1 2> "$WORK/cuda-check.err" | indent; then
  CUDA_REASON=
else
  CUDA_REASON=$(grep -E '^error' "$WORK/cuda-check.err" | tail -n 1)
fi
grep -v '^denoising' "$WORK/cuda-check.err" | indent
say "mdlm generate --device auto --verbose (tiny model):"
"${MDLM[@]}" generate --model "$TINY" --device auto --steps 16 --seed 1 --verbose 2>&1 | grep -v '^denoising' | indent
# serve: its start-up line (provider chosen, and why others were not) or its error, then SIGTERM.
serve_check() {
  local log=$WORK/serve-$1.log
  "${MDLM[@]}" serve --model "$TINY" --device "$1" --port 0 > "$log" 2>&1 &
  local pid=$! waited=0
  while [ $waited -lt 120 ] && kill -0 $pid 2> /dev/null && ! grep -q '"address"' "$log"; do sleep 0.5; waited=$((waited + 1)); done
  kill $pid 2> /dev/null
  wait $pid 2> /dev/null
  { grep -o '"msg":"serving[^"]*"' "$log"; grep '^error' "$log"; } | indent
}
for device in cuda auto; do
  say "mdlm serve --device $device (tiny model):"
  serve_check $device
done

# --- checkpoint and exports ----------------------------------------------------------------
CHECKPOINT=$WORK/checkpoint
step "synth --preset $SHAPE" 20 "${MDLM[@]}" synth --preset "$SHAPE" --out "$CHECKPOINT" || { finish; exit 1; }
# GPT-2-vocabulary presets get no tokenizer from synth (mdlm-owt ships none either); the
# repository's GPT-2 tokenizer fixture stands in for the hub's, which is out of reach here.
[ -e "$CHECKPOINT/tokenizer.json" ] || cp "$ROOT"/test/fixtures/gpt2/tokenizer.json "$ROOT"/test/fixtures/gpt2/tokenizer_config.json "$CHECKPOINT/"
for dtype in fp16 fp32; do
  step "export $dtype" 20 "${MDLM[@]}" export --checkpoint "$CHECKPOINT" --out "$WORK/export-$dtype" --dtype "$dtype" || { finish; exit 1; }
done

# --- PyTorch bf16 reference ----------------------------------------------------------------
step "PyTorch bf16 reference" 30 python3 "$ROOT/bench/gpu/torch_reference.py" --config "$CHECKPOINT/config.json" --batch "${BATCHES// /,}" --json "$RESULTS"

# --- each provider: forward pass, generation, HTTP -----------------------------------------
for provider in $PROVIDERS; do
  if [ "$provider" = cuda ] && [ -n "$CUDA_REASON" ]; then
    skip "everything on cuda" "$CUDA_REASON"
    continue
  fi
  # The CPU serves fp32 (its provider has no fp16 kernels); GPUs fp16.
  dtype=fp16 matmul=4096
  [ "$provider" = cpu ] && dtype=fp32 matmul=1024
  step "forward, $provider" 60 "${NODE[@]}" "$APP/bench/forward.js" --device "$provider" \
    --export "$WORK/export-fp16" --export "$WORK/export-fp32" --batch "${BATCHES// /,}" --matmul-size "$matmul" --json "$RESULTS" || continue
  for steps in $STEPS; do
    step "generate ddpm_cache T=$steps, $provider, $dtype" 30 "${NODE[@]}" "$APP/bench/gpu/generate.js" "$WORK/export-$dtype" "$provider" "$steps" 1 "$RESULTS" || break
  done
  step "/v1/completions under autocannon, $provider, $dtype" $((HTTP_S * $(echo "$CONCURRENCY" | wc -w) + 20)) \
    "${NODE[@]}" "$APP/bench/gpu/http.js" --export "$WORK/export-$dtype" --device "$provider" --concurrency "${CONCURRENCY// /,}" --duration "$HTTP_S" \
    --max-tokens "$HTTP_TOKENS" --steps "$HTTP_TOKENS" --json "$RESULTS"
done

finish
