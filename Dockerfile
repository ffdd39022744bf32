# syntax=docker/dockerfile:1
# The service's image. Production runs Node 22 LTS (a supported runtime) while CI proves Node 20.
# Build: docker build -t instagram-captions:14.0.0 .   Run: docker run -p 3000:3000 -e API_KEYS=… -v captions-data:/data instagram-captions:14.0.0
# `npm run smoke:image` runs the runtime stage's command on the machine (docs/operations.md#deployment).
ARG NODE_IMAGE=node:22-bookworm-slim

# better-sqlite3 compiles from source: python3, make and g++ in the stages that install.
FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# The manifests alone, so the dependency layers are rebuilt only when they change. The client
# package is a workspace of the root: npm ci needs its manifest to match the lockfile.
COPY package.json package-lock.json ./
COPY clients/typescript/package.json clients/typescript/

# Production dependencies only: the runtime stage copies this node_modules.
FROM toolchain AS prod-deps
RUN npm ci --omit=dev --no-audit --no-fund

# The app compiled (nest build, tsc) with every dependency; only dist/ leaves this stage.
FROM toolchain AS build
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM to Node (whose graceful shutdown handles it) and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=prod-deps /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
# DATA_DIR belongs to the image's unprivileged user (node, uid 1000), mode 0700 as the service wants it.
RUN mkdir -p /data && chown 1000:1000 /data && chmod 0700 /data
VOLUME ["/data"]
# Numeric, so Kubernetes' runAsNonRoot can check it.
USER 1000:1000
EXPOSE 3000
# Liveness (touches no dependency). No curl in the slim image: Node's own fetch, on $PORT.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/api/v14/lazy/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/main.js"]
