# The dashboard: Next.js production build served by its server.mjs (Next's handler behind a
# front that sets X-Forwarded-For to the real client; DASHBOARD_TRUST_PROXY names proxies). It reaches the master at
# MASTER_URL (server-side reads and the /api/* proxy); browsers open the master's websocket
# at MASTER_PUBLIC_URL. Both are read per request, so one image serves any deployment.
#
# Build context: the repository root.
#   docker build -f deploy/compose/dashboard.Dockerfile -t cctv/dashboard:local .
# The sources are copied path by path (never the whole tree), so node_modules/, data/ or
# dashboard/.next/ of a checkout never reach the image.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- npm packages at the locked versions ------------------------------------------------
# The lock covers every workspace, so every workspace's manifest is needed to install.
# --ignore-scripts: of all install scripts the root package.json allows only the embedded
# PostgreSQL one, which the dashboard never uses.
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

# ---- next build --------------------------------------------------------------------------
FROM deps AS build
ENV NEXT_TELEMETRY_DISABLED=1
COPY protocol/src protocol/src
COPY dashboard/app dashboard/app
COPY dashboard/components dashboard/components
COPY dashboard/lib dashboard/lib
COPY dashboard/types dashboard/types
COPY dashboard/next-env.d.ts dashboard/next.config.ts dashboard/proxy.ts dashboard/tsconfig.json dashboard/
# The build cache is of no use at runtime.
RUN npm run build -w dashboard \
 && rm -rf dashboard/.next/cache

# ---- the dashboard's runtime packages -----------------------------------------------------
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
RUN npm ci --ignore-scripts --omit=dev --workspace @cctv/dashboard

# ---- runtime -----------------------------------------------------------------------------
FROM ${NODE_IMAGE}
# tini forwards signals to the server and reaps its children.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# node_modules of the root and of each workspace (where npm could not hoist a package),
# with the workspace manifests.
COPY --from=prod-deps /app/node_modules node_modules
COPY --from=prod-deps /app/protocol protocol
COPY --from=prod-deps /app/dashboard dashboard
COPY package.json ./
COPY protocol/src protocol/src
COPY dashboard/next.config.ts dashboard/tsconfig.json dashboard/server.mjs dashboard/
# Next writes its cache (fetch, images) under .next at runtime: owned by the service user.
COPY --from=build --chown=node:node /app/dashboard/.next dashboard/.next
ENV NODE_ENV=production \
    NEXT_TELEMETRY_DISABLED=1 \
    PORT=3000
USER node
WORKDIR /app/dashboard
EXPOSE 3000
STOPSIGNAL SIGTERM
# The sign-in page renders without a session and without the master.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=4 \
  CMD ["node", "-e", "fetch((process.env.DASHBOARD_TLS==='off'?'http':'https')+'://127.0.0.1:'+(process.env.PORT||3000)+'/login',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "server.mjs", "-H", "0.0.0.0"]
