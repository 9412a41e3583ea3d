#!/usr/bin/env bash
# The GPU bench, for a host with no network and no npm (the device tool's machine). From the
# repository root, after bench/gpu/pack.sh, with bench/out/gpu-bundle carried:
#
#   bash bench/gpu/run.sh
#
# Through the device tool: command `bash bench/gpu/run.sh 2>&1 | tee $OUT/run.log`, carry
# ["bench/out/gpu-bundle"], timeout_s 480 (the script keeps to MDLM_BENCH_BUDGET_S, 360 s).
#
# It makes the owt-shape synthetic checkpoint and its exports there (weights never travel),
# times PyTorch's bf16 forward pass as the reference, our forward pass and the server's own
# ddpm_cache generation on each provider that can start, and prints one table at the end.
# A provider that cannot start is reported with its reason and skipped.
#
# Environment (defaults are the real run; a dry run on a CPU sets a small shape and adds cpu):
#   MDLM_BENCH_SHAPE          synth preset: owt (default), small, tiny
#   MDLM_BENCH_PROVIDERS      providers to measure, in order (default "cuda webgpu")
#   MDLM_BENCH_BATCHES        forward-pass batch sizes (default "1 8 32")
#   MDLM_BENCH_STEPS          ddpm_cache steps T (default "1000 5000 10000")
#   MDLM_BENCH_SAMPLES        samples per generation, one after another at batch 1 (default 1)
#   MDLM_BENCH_BUDGET_S       seconds for the whole script; steps that would start with less
#                             than they need are skipped and say so (default 360, so that the
#                             run, the machine's start and a rerun fit a 15-minute device lease)
#   MDLM_BENCH_CARRIED_NODE=1 use the carried Node even where the host has Node 20
#   MDLM_BENCH_WORK           scratch folder (default /tmp/mdlm-gpu-bench)
# Results go to $OUT (the device tool's folder) if set, else to the scratch folder:
# results.jsonl (one measurement a line) and summary.md (the table).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUNDLE=$ROOT/bench/out/gpu-bundle
SHAPE=${MDLM_BENCH_SHAPE:-owt}
PROVIDERS=${MDLM_BENCH_PROVIDERS:-cuda webgpu}
BATCHES=${MDLM_BENCH_BATCHES:-1 8 32}
STEPS=${MDLM_BENCH_STEPS:-1000 5000 10000}
SAMPLES=${MDLM_BENCH_SAMPLES:-1}
BUDGET_S=${MDLM_BENCH_BUDGET_S:-360}
WORK=${MDLM_BENCH_WORK:-/tmp/mdlm-gpu-bench}
RESULTS_DIR=${OUT:-$WORK}
RESULTS=$RESULTS_DIR/results.jsonl
STARTED=$SECONDS

# Progress goes to fd 3 (the log) so that a step's own output can be redirected to a file.
exec 3>&2
say() { printf '[%4ds] %s\n' $((SECONDS - STARTED)) "$*" >&3; }
left() { echo $((BUDGET_S - (SECONDS - STARTED))); }

[ -f "$BUNDLE/app.tar.xz" ] || { echo "run.sh: $BUNDLE/app.tar.xz is missing: run bench/gpu/pack.sh here and carry bench/out/gpu-bundle" >&2; exit 1; }
rm -rf "$WORK" && mkdir -p "$WORK" "$RESULTS_DIR" && : > "$RESULTS"

# --- Node and the project ------------------------------------------------------------------
if [ "${MDLM_BENCH_CARRIED_NODE:-0}" != 1 ] && command -v node > /dev/null && node --version | grep -q '^v20\.'; then
  NODE=$(command -v node)
  say "node: the host's $NODE $($NODE --version)"
else
  xz -dc "$BUNDLE/node.xz" > "$WORK/node" && chmod +x "$WORK/node"
  NODE=$WORK/node
  say "node: carried $($NODE --version) (host has $(node --version 2> /dev/null || echo none))"
fi
tar -xJf "$BUNDLE/app.tar.xz" -C "$WORK"
APP=$WORK/app
MDLM=("$NODE" "$APP/bin/mdlm.js")

# A skipped step as a result line, so that the table says why.
skip() { "$NODE" -e 'console.log(JSON.stringify({ kind: "skip", what: process.argv[1], reason: process.argv[2] }))' "$1" "$2" >> "$RESULTS"; say "skipped $1: $2"; }

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

# --- the host ------------------------------------------------------------------------------
say "host: $(uname -srm), $(nproc) cores"
if command -v nvidia-smi > /dev/null; then
  say "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
fi
say "python: $(python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -1)"
ORT_DIR=$APP/node_modules/onnxruntime-node/bin/napi-v6/linux/x64
if [ -e "$ORT_DIR/libonnxruntime_providers_cuda.so" ]; then say "cuda provider: present"; else say "cuda provider: not in the bundle (onnxruntime-node installed without ONNXRUNTIME_NODE_INSTALL=cuda12)"; fi
say "CUDA 12 / cuDNN 9 libraries the CUDA provider would need: $(ldconfig -p | grep -oE 'lib(cublasLt\.so\.12|cudart\.so\.12|cudnn\.so\.9)' | sort -u | tr '\n' ' ' || true)(none listed = absent)"

# WebGPU on Linux goes through Vulkan: bring the loader if the host lacks it (device README).
if command -v nvidia-smi > /dev/null && ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
  if [ "$(id -u)" = 0 ]; then
    for deb in "$BUNDLE"/debs/*.deb; do dpkg -x "$deb" /; done
    ldconfig
    say "vulkan: loader unpacked from $(ls "$BUNDLE"/debs | tr '\n' ' ')"
  else
    say "vulkan: no loader and not root: WebGPU will report it"
  fi
fi
NVIDIA_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -e "$NVIDIA_ICD" ] && ! ls /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json > /dev/null 2>&1; then
  export VK_DRIVER_FILES=$NVIDIA_ICD __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  say "vulkan: driver from $NVIDIA_ICD"
fi

# --- checkpoint and exports ----------------------------------------------------------------
CHECKPOINT=$WORK/checkpoint
step "synth --preset $SHAPE" 20 "${MDLM[@]}" synth --preset "$SHAPE" --out "$CHECKPOINT" || exit 1
# GPT-2-vocabulary presets get no tokenizer from synth (mdlm-owt ships none either); the
# repository's GPT-2 tokenizer fixture stands in for the hub's, which is out of reach here.
[ -e "$CHECKPOINT/tokenizer.json" ] || cp "$ROOT"/test/fixtures/gpt2/tokenizer.json "$ROOT"/test/fixtures/gpt2/tokenizer_config.json "$CHECKPOINT/"
for head in positions logits; do
  for dtype in fp16 fp32; do
    step "export $head $dtype" 20 "${MDLM[@]}" export --checkpoint "$CHECKPOINT" --out "$WORK/export-$head-$dtype" --head "$head" --dtype "$dtype" || exit 1
  done
done

# --- PyTorch bf16 reference ----------------------------------------------------------------
step "PyTorch bf16 reference" 30 python3 "$ROOT/bench/gpu/torch_reference.py" --config "$CHECKPOINT/config.json" --batch "${BATCHES// /,}" --json "$RESULTS"

# --- our forward pass ----------------------------------------------------------------------
for provider in $PROVIDERS; do
  batches=$BATCHES matmul=4096
  # The CPU is here for the dry run; on a GPU host it gets one small batch.
  [ "$provider" = cpu ] && batches=${BATCHES%% *} matmul=1024
  step "forward, positions head, $provider" 60 "$NODE" "$APP/bench/forward.js" --device "$provider" \
    --export "$WORK/export-positions-fp16" --export "$WORK/export-positions-fp32" --batch "${batches// /,}" --matmul-size "$matmul" --json "$RESULTS"
  # All logits of B×L positions leave the device (206 MB per sequence at owt shape): one row.
  step "forward, logits head, $provider" 60 "$NODE" "$APP/bench/forward.js" --device "$provider" \
    --export "$WORK/export-logits-fp16" --export "$WORK/export-logits-fp32" --batch 1 --matmul-size 0 --json "$RESULTS"
done

# --- the server's own generation -----------------------------------------------------------
generate() {
  local provider=$1 dtype=$2 steps=$3
  step "generate ddpm_cache T=$steps, $provider, $dtype" 30 \
    "$NODE" "$APP/bench/gpu/generate.js" "$WORK/export-positions-$dtype" "$provider" "$steps" "$SAMPLES" "$RESULTS"
}
for provider in $PROVIDERS; do
  generated=yes
  for steps in $STEPS; do generate "$provider" fp16 "$steps" || { generated=no; break; }; done
  [ $generated = yes ] && generate "$provider" fp32 "${STEPS%% *}"
done

# --- the table -----------------------------------------------------------------------------
say "done; results in $RESULTS"
echo
"$NODE" "$APP/bench/gpu/summary.js" "$RESULTS" | tee "$RESULTS_DIR/summary.md"
