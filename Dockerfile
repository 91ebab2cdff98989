# Image for both processes (docker-compose.yml picks the command). Not built by the test suite.
FROM node:20-bookworm AS website
WORKDIR /src/website
COPY website/package.json website/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY website/ ./
RUN npm run build

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
ARG CARGO_FEATURES=""
RUN cargo build --release --locked -p code4me-server -p code4me-worker ${CARGO_FEATURES:+--features $CARGO_FEATURES}

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/target/release/code4me-server /src/target/release/code4me-worker /usr/local/bin/
COPY --from=website /src/website/dist /app/website/dist
USER nobody
EXPOSE 8008
CMD ["code4me-server"]
