# syntax=docker/dockerfile:1
#
# secret-groups images, one Dockerfile, two targets:
#
#   docker build --target server -t secret-groups/server .   # `sg serve` (and the `sg` admin CLI)
#   docker build --target agent  -t secret-groups/agent  .   # `sg-agent` as the entrypoint wrapper
#
# Stages: `build` installs every dependency with `npm ci` (whose `prepare` generates the
# protobuf code with buf + ts-proto and compiles TypeScript), then prunes to production
# dependencies; `probe` builds grpc-health-probe; `runtime` holds only what runs: production
# node_modules, dist/ and proto/ (server reflection loads the .proto files at start). Both
# targets run as an unprivileged numeric user, so Kubernetes `runAsNonRoot` can verify it.
# Nothing secret is baked in: tokens, the master key and TLS keys are mounted at run time.

ARG NODE_IMAGE=node:20.20-bookworm-slim
ARG GO_IMAGE=golang:1.26-bookworm

# --- build: npm ci (+ generate + compile), then drop dev dependencies -----------------------
FROM ${NODE_IMAGE} AS build
# better-sqlite3 falls back to compiling from source when no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json tsconfig.json buf.yaml buf.gen.yaml ./
COPY proto ./proto
# npm run gen runs it after buf generate (gen/light for the CLI).
COPY scripts/gen-light-wire.mjs ./scripts/
# The rooms: the server, the admin CLI, the shared API client, the agent and the console's UI.
COPY server ./server
COPY cli ./cli
COPY client ./client
COPY agent ./agent
COPY console ./console
# The bundler scripts: the bins' bundles and their code cache (dist/bin), the web console.
COPY scripts/bundle-bins.mjs scripts/code-cache.mjs scripts/build-console.mjs ./scripts/
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund \
 && test -f dist/bin/sg.cjs && test -f dist/bin/sg-agent.cjs && test -f dist/console/index.html

# --- probe: grpc-health-probe, for exec probes that must speak TLS ------------------------
FROM ${GO_IMAGE} AS probe
ARG GRPC_HEALTH_PROBE_VERSION=v0.4.62
RUN CGO_ENABLED=0 GOBIN=/out go install -trimpath \
      github.com/grpc-ecosystem/grpc-health-probe@${GRPC_HEALTH_PROBE_VERSION}

# --- runtime: production dependencies, dist/, proto/; non-root --------------------------------
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1 reaps orphaned grandchildren of wrapped programs and forwards signals.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 sg \
 && useradd --system --uid 10001 --gid sg --home-dir /home/sg --create-home --shell /usr/sbin/nologin sg
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/proto ./proto
RUN chmod 0755 dist/bin/sg.cjs dist/bin/sg-agent.cjs \
 && ln -s /app/dist/bin/sg.cjs /usr/local/bin/sg \
 && ln -s /app/dist/bin/sg.cjs /usr/local/bin/secret-groups \
 && ln -s /app/dist/bin/sg-agent.cjs /usr/local/bin/sg-agent

# --- agent: wrap the workload ------------------------------------------------------------------
# Build the workload's image FROM this one (or copy /app and the two links into it) and give the
# program as CMD: the agent resolves the workload's variables, writes its secret files, and
# execs CMD with them, forwarding signals and exiting with CMD's status. Configuration comes from
# SG_ADDR, SG_PROJECT, SG_WORKLOAD and SG_TOKEN_FILE (or SG_TOKEN), SG_CA for TLS.
# For the sidecar, override the command: `sg-agent write --out /shared/app.env --watch`.
# The Kubernetes injector (docs/kubernetes.md) runs this image with commands of its own: the
# injected agent is `sg-agent write ...`, the webhook itself `tini -- sg k8s-injector serve ...`.
FROM runtime AS agent
USER 10001:10001
# No CMD here (setting ENTRYPOINT clears the base image's): without a program the agent exits 2
# with `no command after "--"`.
ENTRYPOINT ["/usr/bin/tini", "--", "sg-agent", "exec", "--"]

# --- server (default target) -----------------------------------------------------------------
# TLS by default, from files mounted at /etc/sg/tls (a Kubernetes TLS Secret has these keys).
# Behind a service mesh that terminates mTLS in the sidecar, run plaintext explicitly instead:
#   CMD ["serve", "--addr", "0.0.0.0:50051", "--data", "/data", "--insecure"]
# With MongoDB (several replicas) add `--store` or set SG_STORE_URI, and give every replica the
# same master key (SG_MASTER_KEY); the embedded SQLite store keeps everything under /data.
FROM runtime AS server
COPY --from=probe /out/grpc-health-probe /usr/local/bin/grpc-health-probe
RUN mkdir -p /data && chown 10001:10001 /data
VOLUME ["/data"]
EXPOSE 50051 9464
USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "--", "sg"]
CMD ["serve", "--addr", "0.0.0.0:50051", "--data", "/data", \
     "--tls-cert", "/etc/sg/tls/tls.crt", "--tls-key", "/etc/sg/tls/tls.key", \
     "--metrics-addr", "0.0.0.0:9464"]
