# fleetcol: build with the dev toolchain, run on a slim image as a non-root user.
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY receivers ./receivers
COPY processors ./processors
COPY connectors ./connectors
COPY exporters ./exporters
COPY extensions ./extensions
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM node:20-slim
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    FLEETCOL_OTLP_GRPC_ENDPOINT=0.0.0.0:4317 \
    FLEETCOL_OTLP_HTTP_ENDPOINT=0.0.0.0:4318 \
    FLEETCOL_SSE_ENDPOINT=0.0.0.0:4319 \
    FLEETCOL_A2A_WEBHOOK_ENDPOINT=0.0.0.0:4320 \
    FLEETCOL_METRICS_ADDRESS=0.0.0.0:8888
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY config ./config
RUN mkdir -p /var/lib/fleetcol && chown node:node /var/lib/fleetcol
USER node
# OTLP gRPC, OTLP HTTP, SSE feed, A2A webhook, own metrics, Prometheus exporter
EXPOSE 4317 4318 4319 4320 8888 8889
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8888/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--max-semi-space-size=1", "--heap-growing-percent=100", "dist/src/cli.js"]
CMD ["--config", "config/fleetcol.yaml"]
