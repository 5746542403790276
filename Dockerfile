# One image per service, all from this file and the repository root:
#   docker build --build-arg SERVICE=intake --build-arg PORT=8001 -t zicht/intake .
# SERVICE is intake, triage, scoring or notify; PORT the port it listens on and exposes
# (8001 to 8004). deploy/compose.yaml passes both for each service.
ARG SERVICE
ARG PORT

FROM python:3.11-slim AS build
ARG SERVICE
ARG PORT
ENV UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv
WORKDIR /src
COPY . .
# A missing or misspelt argument fails here, not as an image that starts nothing.
RUN test -f "services/$SERVICE/pyproject.toml" && test -n "$PORT" \
    || { echo "build with --build-arg SERVICE=<intake|triage|scoring|notify> --build-arg PORT=<port>" >&2; exit 1; }
RUN uv sync --frozen --no-dev --package "zicht-$SERVICE" --no-editable

FROM python:3.11-slim
ARG SERVICE
ARG PORT
LABEL org.opencontainers.image.title="zicht-${SERVICE}"
RUN useradd --system --uid 10001 zicht
COPY --from=build /src/.venv /app/.venv
# The image listens on the port it exposes; SERVICE_MODULE is what CMD runs.
ENV PATH=/app/.venv/bin:$PATH ZICHT_HTTP_HOST=0.0.0.0 ZICHT_HTTP_PORT=${PORT} \
    SERVICE_MODULE=zicht_${SERVICE}
USER zicht
EXPOSE ${PORT}
HEALTHCHECK CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$ZICHT_HTTP_PORT/healthz').status==200 else 1)"
# exec: the service itself is PID 1, so docker stop's SIGTERM reaches it.
CMD ["/bin/sh", "-c", "exec python -m \"$SERVICE_MODULE\""]
