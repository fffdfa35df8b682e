# Dockerfile - container images of the gateway, built in stages:
#
#   build              the daemons, fibctl and the nginx module, from source
#   runtime            BASE plus the shared libraries and fibctl (health checks)
#   stats-service      runtime + stats-service (state in /var/lib/stats-service)
#   fibonacci-service  runtime + fibonacci-service
#   gateway            runtime + Debian's nginx + the module
#
#   podman build --network host --target gateway -t fib-gateway/gateway .
#
# BASE is any Debian 12 image (default debian:bookworm-slim); the test builds
# one from Debian's repositories with mmdebstrap. compose.yaml runs them.
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        build-essential pkg-config libgrpc-dev libprotobuf-c-dev \
        protobuf-c-compiler libprotobuf-dev libgmp-dev uthash-dev nginx-dev \
        libsqlite3-dev libpq-dev \
        libjansson-dev \
        libmicrohttpd-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN rm -rf build \
 && SKIP_DEPS=1 ./build.sh module \
 && make -j"$(nproc)" BUILD=build install DESTDIR=/out PREFIX=/usr

FROM ${BASE} AS runtime
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        libgrpc29 libprotobuf-c1 libgmp10 libsqlite3-0 libpq5 libmicrohttpd12 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/usr/bin/fibctl /usr/bin/

FROM runtime AS stats-service
COPY --from=build /out/usr/bin/stats-service /usr/bin/
RUN useradd --system --home-dir /var/lib/stats-service stats-service \
 && install -d -o stats-service -g stats-service /var/lib/stats-service
USER stats-service
# The default store, sqlite:/var/lib/stats-service/stats.db, on the volume.
ENV STATE_DIRECTORY=/var/lib/stats-service
VOLUME /var/lib/stats-service
ENTRYPOINT ["/usr/bin/stats-service"]
CMD ["--listen", "0.0.0.0:5002"]

FROM runtime AS fibonacci-service
COPY --from=build /out/usr/bin/fibonacci-service /usr/bin/
RUN useradd --system --no-create-home fibonacci-service
USER fibonacci-service
ENTRYPOINT ["/usr/bin/fibonacci-service"]
CMD ["--listen", "0.0.0.0:5001"]

FROM runtime AS gateway
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        nginx libjansson4 \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default
COPY --from=build /out/usr/lib/nginx/modules/ngx_http_fib_module.so /usr/lib/nginx/modules/
COPY conf/nginx/fib-module.conf /etc/nginx/modules-enabled/50-mod-http-fib.conf
COPY conf/container/gateway.conf.in conf/container/gateway-entrypoint /etc/fib-gateway/
ENTRYPOINT ["/etc/fib-gateway/gateway-entrypoint"]
