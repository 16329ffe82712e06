# Static, CGO-free build of tgauth's binaries on a distroless base.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/api ./cmd/bot \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/api /out/bot /usr/local/bin/
# The data folder belongs to the nonroot user, so a fresh named volume
# mounted there is writable.
COPY --from=build --chown=65532:65532 /out/data /var/lib/tgauth/data
WORKDIR /var/lib/tgauth
ENV TGAUTH_DATABASE_PATH=/var/lib/tgauth/data/tgauth.db
EXPOSE 8080
USER 65532:65532
# The API by default; the bot runs the same image with entrypoint bot.
ENTRYPOINT ["/usr/local/bin/api"]
