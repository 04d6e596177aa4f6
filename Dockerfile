# syntax=docker/dockerfile:1
# The lifeline operator image (`lifeline run`; the CLI is the same binary).
#
#   docker build -t ghcr.io/lifeline-dev/lifeline:0.1.0 .
#   docker push ghcr.io/lifeline-dev/lifeline:0.1.0
#
# manifests/operator/deployment.yaml runs this image. Build and push it yourself: no image is
# published yet. Where no container engine runs, scripts/realnode/images builds the same
# contents (the release binary, the libraries it links against, CA certificates, user
# 65532, no shell) as an OCI archive; the real-node tests install lifeline with it.

# Build: the exact dependency versions of Cargo.lock (--locked), release profile. The
# cache mounts keep the crates.io registry and target/ between builds (BuildKit).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# Cargo.toml declares the benchmark target, so its source must be present to build.
COPY benches ./benches
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin lifeline \
    && install -m 0755 target/release/lifeline /lifeline

# Run: glibc and libgcc (which the binary links against), CA certificates (for https
# checks), no shell, no package manager; non-root.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="lifeline" \
      org.opencontainers.image.description="Restores hospital clinical systems after an outage, in dependency order" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0"
COPY --from=build /lifeline /lifeline
USER 65532:65532
ENTRYPOINT ["/lifeline"]
CMD ["run"]
