# The storage gateway: segment and snapshot ingest into a durable local buffer, the NAS mover,
# the segment index, VOD and live playlists, H.264 renditions (ffmpeg). Applies pending
# database migrations at start.
#
# Build context: the repository root.
#   docker build -f deploy/compose/storage-gateway.Dockerfile -t cctv/storage-gateway:local .
# The sources are copied path by path (never the whole tree), so node_modules/, data/ or
# dashboard/.next/ of a checkout never reach the image.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- npm packages at the locked versions ------------------------------------------------
# The lock covers every workspace, so every workspace's manifest is needed to install.
# --ignore-scripts: of all install scripts the root package.json allows only the embedded
# PostgreSQL one, which the gateway never uses.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json .npmrc ./
COPY protocol/package.json protocol/
COPY prisma/package.json prisma/
COPY master/package.json master/
COPY storage-gateway/package.json storage-gateway/
COPY vision/package.json vision/
COPY node-agent/package.json node-agent/
COPY dashboard/package.json dashboard/
RUN npm ci --ignore-scripts

# ---- the generated Prisma client ---------------------------------------------------------
FROM deps AS build
# `prisma generate` wants a schema engine path although it never runs it (migrations go
# through the WebAssembly engine at start).
COPY prisma/schema.prisma prisma/
RUN PRISMA_SCHEMA_ENGINE_BINARY=/bin/false PRISMA_HIDE_UPDATE_MESSAGE=1 CHECKPOINT_DISABLE=1 \
    node_modules/.bin/prisma generate --schema prisma/schema.prisma

# ---- the gateway's runtime packages -------------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json .npmrc ./
COPY protocol/package.json protocol/
COPY prisma/package.json prisma/
COPY master/package.json master/
COPY storage-gateway/package.json storage-gateway/
COPY vision/package.json vision/
COPY node-agent/package.json node-agent/
COPY dashboard/package.json dashboard/
RUN npm ci --ignore-scripts --omit=dev --workspace @cctv/storage-gateway
# The services run their TypeScript through tsx, a root dev dependency (with esbuild and its
# binary for this platform).
COPY --from=deps /app/node_modules/tsx node_modules/tsx
COPY --from=deps /app/node_modules/esbuild node_modules/esbuild
COPY --from=deps /app/node_modules/@esbuild node_modules/@esbuild

# ---- runtime -----------------------------------------------------------------------------
FROM ${NODE_IMAGE}
# ffmpeg makes the H.264 renditions; tini reaps the ffmpeg and NAS worker processes and
# forwards signals.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# node_modules of the root and of each workspace (where npm could not hoist a package),
# with the workspace manifests.
COPY --from=prod-deps /app/node_modules node_modules
COPY --from=prod-deps /app/protocol protocol
COPY --from=prod-deps /app/prisma prisma
COPY --from=prod-deps /app/storage-gateway storage-gateway
COPY package.json tsconfig.json ./
COPY protocol/src protocol/src
COPY prisma/schema.prisma prisma/
COPY prisma/migrations prisma/migrations
COPY prisma/src prisma/src
COPY --from=build /app/prisma/generated prisma/generated
COPY storage-gateway/src storage-gateway/src
# Every module loads (a missing package fails the build, not the first start).
RUN node --import tsx --input-type=module -e "await import('/app/storage-gateway/src/gateway.ts')"
# Buffer, snapshots and rendition cache under /data/gateway, the NAS at /nas: volumes in
# compose.yaml. Created here so that fresh named volumes belong to the service user.
RUN mkdir -p /data/gateway/buffer /data/gateway/snapshots /data/gateway/renditions /nas \
 && chown -R node:node /data/gateway /nas
ENV GATEWAY_PORT=8090 \
    GATEWAY_DATA_DIR=/data/gateway \
    GATEWAY_NAS_DIR=/nas
USER node
EXPOSE 8090
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=4 \
  CMD ["node", "-e", "fetch((process.env.GATEWAY_TLS==='off'?'http':'https')+'://127.0.0.1:'+(process.env.GATEWAY_PORT||8090)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "storage-gateway/src/main.ts"]
