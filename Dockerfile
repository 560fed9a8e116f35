# syntax=docker/dockerfile:1
# Multi-stage: build a wheel with pinned dependencies, then run it as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY gateway ./gateway
COPY schema ./schema
COPY resolvers ./resolvers
RUN python -m venv /opt/gateway \
 && /opt/gateway/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/gateway/bin/pip install --no-cache-dir -c constraints.txt .

FROM python:3.11-slim AS runtime
RUN groupadd --system gateway && useradd --system --gid gateway --home-dir /app --create-home gateway
COPY --from=build /opt/gateway /opt/gateway
ENV PATH="/opt/gateway/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8000
WORKDIR /app
USER gateway
EXPOSE 8000
# The port the gateway serves on (GATEWAY_PORT, also when changed with `docker run -e`), not a fixed 8000.
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('GATEWAY_PORT', '8000'), timeout=2)" || exit 1
ENTRYPOINT ["gateway"]
CMD ["run"]
