# goshawk in a container: a static binary (no cgo), run as a non-root user,
# with the site folder (config, playbooks, plugins, store) on a volume.
#
#   docker build -t goshawk --build-arg VERSION=$(git describe --tags --always) .
#   docker run -d --name goshawk --stop-timeout 45 -p 8470:8470 -v goshawk-site:/site \
#     -e GOSHAWK_API_TOKEN -e TC_SECRET_KEY -e TQ_PASSWORD goshawk
#
# The site's goshawk.yaml must listen on 0.0.0.0:8470 to be reachable from
# outside the container, which requires api_token (see README, Deployment).

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=0.1.0-dev
ARG COMMIT=""
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/goshawk ./cmd/goshawk \
 && mkdir -p /out/site

# distroless/static: CA certificates and /etc/passwd, no shell, no package
# manager; its nonroot user is uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/goshawk /usr/local/bin/goshawk
COPY --from=build --chown=65532:65532 /out/site /site
USER 65532:65532
WORKDIR /site
ENV GOSHAWK_CONFIG=/site/goshawk.yaml
VOLUME ["/site"]
EXPOSE 8470
ENTRYPOINT ["/usr/local/bin/goshawk"]
CMD ["--log-format", "json", "serve"]
