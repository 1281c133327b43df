# tt-dbproxy container image (not built or validated on the project's
# machines: they have no container daemon; see docs/operations.md).
#
#   docker build -t tt-dbproxy .
#   docker run -p 10600:10600 -v tt-data:/var/lib/tt-dbproxy tt-dbproxy
FROM rust:1.88-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin tt-dbproxy

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system tt-dbproxy \
    && useradd --system --gid tt-dbproxy --home-dir /var/lib/tt-dbproxy --shell /usr/sbin/nologin tt-dbproxy \
    && install -d -o tt-dbproxy -g tt-dbproxy -m 0750 /var/lib/tt-dbproxy
COPY --from=build /src/target/release/tt-dbproxy /usr/bin/tt-dbproxy
USER tt-dbproxy
WORKDIR /var/lib/tt-dbproxy
VOLUME ["/var/lib/tt-dbproxy"]
# Inside a container the ports must be reachable from other containers;
# keep them off public networks (the protocol has no authentication) and
# set TT_DBPROXY_ALLOW_PEERS to the TeamTalk servers' addresses.
ENV TT_DBPROXY_LISTEN=0.0.0.0:10600 \
    TT_DBPROXY_ADMIN_LISTEN=0.0.0.0:10601 \
    TT_DBPROXY_DATA_DIR=/var/lib/tt-dbproxy
EXPOSE 10600 10601
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:10601/healthz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tt-dbproxy"]
CMD ["serve"]
