# jetport on the official Deno image, as the image's non-root user "deno".
#   docker build -t jetport .
#   docker run --rm -v "$PWD/jetport.yaml:/etc/jetport/jetport.yaml:ro" -v jetport-state:/var/lib/jetport jetport
# The config is mounted, never baked in; relative paths in it resolve against /var/lib/jetport.
# The Deno the project pins (scripts/install-tools.sh): its node:tls does TLS with NATS.
FROM denoland/deno:2.9.6

WORKDIR /app
COPY --chown=deno:deno deno.json deno.lock main.ts ./
COPY --chown=deno:deno src ./src
# /data/storage and /data/monitor: the watched directory and the monitor's log in
# docker-compose.yml, owned by deno so new named volumes are writable.
RUN mkdir -p /var/lib/jetport /etc/jetport /data/storage /data/monitor && \
  chown deno:deno /var/lib/jetport /app /data/storage /data/monitor

USER deno
# Dependencies are fetched at build time (from the lock file), so the container needs no
# registry access at run time.
RUN deno cache --frozen main.ts

WORKDIR /var/lib/jetport
VOLUME ["/var/lib/jetport"]
EXPOSE 9464
# The same permissions as the "jetport" task in deno.json and the compiled binary.
ENTRYPOINT ["deno", "run", "--cached-only", "--allow-read", "--allow-write", "--allow-net", "--allow-env", "--allow-sys", "--allow-run", "/app/main.ts"]
CMD ["run", "--config", "/etc/jetport/jetport.yaml"]
