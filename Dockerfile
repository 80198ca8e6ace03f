# syntax=docker/dockerfile:1
# seqae: one image for producers and workers (`docker run seqae:local worker --roles infer`).

# Build stage: all dependencies, TypeScript compiled to dist/, then dev dependencies pruned.
# On a machine with internet the optional @tensorflow/tfjs-node installs here with its native
# TensorFlow library (and falls back to WebAssembly / CPU backends where it cannot).
FROM node:20-slim AS build
WORKDIR /app
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

# Runtime stage: production dependencies and compiled code only, as the unprivileged `node` user.
FROM node:20-slim AS runtime
ENV NODE_ENV=production \
    SEQAE_HTTP_HOST=0.0.0.0 \
    SEQAE_HTTP_PORT=9464
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./package.json
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=build --chown=node:node /app/bin ./bin
USER node
EXPOSE 9464
ENTRYPOINT ["node", "bin/seqae.js"]
CMD ["--help"]
