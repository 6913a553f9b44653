# AgentQueue: queue-worker, queue-webhook and queuectl in one image.
#   docker build -t agentqueue .            (or: docker compose up --build --scale worker=4)
# The build command is the README's, word for word; scripts/check-compose.sh keeps them in step.

ARG SWIFT_VERSION=6.3

# ---- build ------------------------------------------------------------------------------------------
FROM swift:${SWIFT_VERSION}-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq-dev libsystemd-dev libcurl4-openssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN swift build -c release --static-swift-stdlib
RUN mkdir -p /out \
    && cp .build/release/queue-worker .build/release/queue-webhook .build/release/queuectl /out/ \
    && strip /out/queue-worker /out/queue-webhook /out/queuectl

# ---- run --------------------------------------------------------------------------------------------
# Same Debian release as the build image, so libpq and libsystemd match what was linked.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 libsystemd0 libcurl4 libstdc++6 git ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /nonexistent --shell /usr/sbin/nologin agentqueue
COPY --from=build /out/ /usr/local/bin/
USER 10001:10001
# Logs go to stderr as logfmt (no journal in a container); LOG_FORMAT=json for log shippers.
ENV LOG_FORMAT=logfmt
CMD ["queue-worker", "--instance", "1"]
