# blindsum: one image for the aggregator, the party nodes and the CLI (analysts, auditors, set-up).
# Build: docker build -t blindsum:local .     Run: docker run --rm blindsum:local --help
# Usage, volumes and the compose file: docs/operations.md § Container image.
# Node 24, the major version of the `node` runtime package.json pins (test/deploy-files.test.ts checks it).

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies exactly as locked. --ignore-scripts: no install script is needed at run
# time (the `node` package's only fetches a second Node runtime; this image runs its own Node 24).
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
# openssl: `blindsum certs` (the compose init service makes the consortium's TLS certificates with
# it); unpinned, so a rebuild picks up Debian's security updates. A non-root user owns the state,
# data and configuration directories (and the volumes made from them).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 blindsum \
 && useradd --system --uid 10001 --gid blindsum --home-dir /var/lib/blindsum --shell /usr/sbin/nologin blindsum \
 && mkdir -p /etc/blindsum /var/lib/blindsum /srv/blindsum/data \
 && chown blindsum:blindsum /etc/blindsum /var/lib/blindsum /srv/blindsum/data \
 && chmod 0700 /etc/blindsum /var/lib/blindsum
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY cli ./cli
COPY client ./client
COPY crypto ./crypto
COPY gen ./gen
COPY proto ./proto
COPY services ./services
COPY stats ./stats
COPY examples ./examples
COPY web ./web
COPY deploy/compose-init.sh ./deploy/compose-init.sh
# The web console's pages (aggregator --web-listen, docs/web.md): `npm ci --ignore-scripts` above
# skipped the `prepare` script that builds them, so they are built here, with esbuild from the
# production dependencies, into /app/dist/web (read-only to the blindsum user).
RUN node web/build.ts /app/dist/web
RUN ln -s /app/cli/blindsum.ts /usr/local/bin/blindsum
USER blindsum:blindsum
# State (aggregator --data-dir, party --state-dir and --receipts), input data (a party's CSV),
# configuration (roster, schema, keys, certificates).
VOLUME ["/var/lib/blindsum", "/srv/blindsum/data", "/etc/blindsum"]
EXPOSE 7070
# The aggregator's gRPC health service, plaintext on loopback; compose.yaml overrides it with the
# TLS flags, and turns it off for parties (they dial out and serve nothing).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["blindsum", "health", "--aggregator", "127.0.0.1:7070", "--quiet"]
ENTRYPOINT ["blindsum"]
CMD ["--help"]
