# syntax=docker/dockerfile:1
#
# mdlm-serve. The CPU image is the default; the CUDA image needs the NVIDIA Container Toolkit
# on the host and `docker run --gpus all`.
#
#   docker build -t mdlm-serve .
#   docker build --build-arg VARIANT=cuda -t mdlm-serve:cuda .
#
# Models are downloaded and converted on first use into /data (HF_HOME and MDLM_MODELS_DIR),
# a volume: mount one to keep them across containers.

ARG VARIANT=cpu
ARG NODE_IMAGE=node:20-bookworm-slim
# onnxruntime-node 1.30's CUDA provider is built for CUDA 12 and cuDNN 9.
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04

# --- build: compile TypeScript, then keep only the production dependencies ------------------
FROM ${NODE_IMAGE} AS build
ARG VARIANT
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Scripts are off for `npm ci` because the package's own `prepare` compiles sources that are
# not copied yet, and because onnxruntime-node's would fetch its CUDA provider from NuGet: the
# CPU image needs none of it, and the CUDA image runs that script on purpose, with cuda12.
RUN npm ci --ignore-scripts \
 && if [ "$VARIANT" = cuda ]; then ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install; fi \
 && test "$VARIANT" != cuda || test -e node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
# onnxruntime-node carries every platform's binaries; keep this one's.
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts \
 && find node_modules/onnxruntime-node/bin/napi-v6 -mindepth 2 -maxdepth 2 -not -path "*/$(node -p 'process.platform + "/" + process.arch')" -exec rm -rf {} +

# --- runtime bases ------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime-cpu
ENV MDLM_DEVICE=cpu MDLM_DTYPE=fp32

FROM ${CUDA_IMAGE} AS runtime-cuda
# Node 20 itself, from the official image: it needs nothing but glibc and libstdc++.
COPY --from=build /usr/local/bin/node /usr/local/bin/node
# An explicit device: a container started without --gpus fails with the fix instead of
# quietly running on the CPU. fp16 runs the matrix products on the tensor cores.
ENV MDLM_DEVICE=cuda MDLM_DTYPE=fp16

# --- the image ----------------------------------------------------------------------------
FROM runtime-${VARIANT}
ENV NODE_ENV=production \
    MDLM_HOST=0.0.0.0 \
    MDLM_PORT=8000 \
    HF_HOME=/data/huggingface \
    MDLM_MODELS_DIR=/data/models
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home mdlm \
 && mkdir -p /data/huggingface /data/models \
 && chown -R mdlm:mdlm /data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
# The playground's static page: the compiled plugin serves it from the package's src/.
COPY --from=build /app/src/playground/assets ./src/playground/assets
COPY --from=build /app/node_modules ./node_modules
USER mdlm
VOLUME ["/data"]
EXPOSE 8000
# The first start downloads and converts the model before it listens: allow for it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15m --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.MDLM_PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "bin/mdlm.js", "serve"]
