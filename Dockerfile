# One image for every tier: `docker run infliq <tier>`.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY backend backend
COPY compat compat
COPY devstack devstack
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/infliq ./backend/cmd/infliq

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/infliq /usr/local/bin/infliq
USER nonroot
ENTRYPOINT ["/usr/local/bin/infliq"]
CMD ["all"]
