# syntax=docker/dockerfile:1
#
# why5xx in a small non-root image:
#   docker build -t why5xx .
#   docker run --rm why5xx https://shop.example.com/health
#   docker run --rm -p 9505:9505 -v /etc/why5xx.toml:/etc/why5xx.toml:ro \
#     why5xx serve --listen 0.0.0.0:9505 --config /etc/why5xx.toml
#
# In a container why5xx sees the container, not the host: for a whole-host
# diagnosis run the binary on the host (docs/recipes.md).

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# rustls with ring: a C compiler (in the image) and no OpenSSL.
COPY Cargo.toml Cargo.lock ./
COPY probes ./probes
COPY src ./src
COPY tests ./tests
COPY config.example.toml ./
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin why5xx \
    && install -D -m 0755 target/release/why5xx /out/why5xx \
    && /out/why5xx --version

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 why5xx \
    && useradd --system --uid 10001 --gid why5xx --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin why5xx
COPY --from=build /out/why5xx /usr/local/bin/why5xx
COPY config.example.toml /usr/share/doc/why5xx/config.example.toml
USER 10001:10001
# `why5xx serve --listen 0.0.0.0:9505`: the Prometheus exporter.
EXPOSE 9505
ENTRYPOINT ["why5xx"]
