# syntax=docker/dockerfile:1.7
# gpu-worker for NVIDIA GPUs. From the repository root:
#   docker build -f deploy/docker/gpu-worker.Dockerfile -t medfusion/gpu-worker .
#
# CUDA base: @tensorflow/tfjs-node-gpu 4.22 loads libtensorflow 2.9.1, built for CUDA 11.2 and
# cuDNN 8.1; it opens libcudart.so.11.0 and libcudnn.so.8, which every CUDA 11.x runtime and cuDNN 8
# provide (CUDA minor-version compatibility). So the base is CUDA 11.8 + cuDNN 8, the newest 11.x
# runtime with cuDNN 8; a CUDA 12 image would lack libcudart.so.11.0. Hosts need an NVIDIA driver
# of 450.80.02 or newer and the NVIDIA container toolkit (or the Kubernetes device plugin).
ARG NODE_IMAGE=node:20.20-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04

FROM ${NODE_IMAGE} AS node

FROM ${CUDA_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates g++ make python3 \
 && rm -rf /var/lib/apt/lists/*
# Node from the official image (its binaries need glibc 2.28+, Ubuntu 22.04 has 2.35), with its
# headers for the native-kernels addon and npm for the install.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/include/node /usr/local/include/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json tsconfig.base.json tsconfig.build.json ./
COPY libs ./libs
COPY apps ./apps
COPY tools ./tools
# scripts/build-napi-addon.mjs builds the optional native addons during npm run build.
COPY scripts ./scripts
# With optional dependencies: tfjs-node-gpu downloads libtensorflow (GPU) here. npm drops an
# optional package whose install fails without saying so, hence the check for its binding.
RUN npm ci --no-audit --no-fund \
 && ls node_modules/@tensorflow/tfjs-node-gpu/lib/napi-v*/tfjs_binding.node
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf libs/*/test apps/*/test

FROM ${CUDA_IMAGE} AS runtime
COPY --from=node /usr/local/bin/node /usr/local/bin/node
RUN groupadd --system --gid 10001 medfusion \
 && useradd --system --uid 10001 --gid medfusion --home-dir /app --no-create-home medfusion \
 && mkdir -p /var/lib/medfusion/artifacts \
 && chown -R medfusion:medfusion /var/lib/medfusion
WORKDIR /app
COPY --from=build /app /app
COPY deploy/docker/healthcheck.mjs /app/deploy/docker/healthcheck.mjs
ENV NODE_ENV=production \
    MEDFUSION_APP=gpu-worker \
    COMPUTE_BACKEND=tensorflow-gpu \
    ARTIFACTS_DIR=/var/lib/medfusion/artifacts \
    DATA_ROOTS=/var/lib/medfusion/datasets
VOLUME ["/var/lib/medfusion"]
USER medfusion
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 CMD ["node", "deploy/docker/healthcheck.mjs"]
CMD ["node", "apps/gpu-worker/dist/main.js"]
