# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY api ./api
COPY models ./models
COPY routers ./routers
RUN pip install --no-cache-dir .

FROM python:3.11-slim AS runtime
RUN useradd --create-home --uid 10001 --user-group ateliers
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY alembic.ini ./
COPY alembic ./alembic
COPY openapi ./openapi
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ATELIERS_ENV=production \
    ATELIERS_STORAGE_DIR=/app/storage \
    ATELIERS_LOG_FORMAT=json
RUN mkdir -p /app/storage && chown ateliers /app/storage
# By number: a host or an orchestrator checking for a non-root user resolves no names.
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
CMD ["sh", "-c", "ateliers migrate && exec ateliers serve --host 0.0.0.0 --port 8000 --workers ${WEB_CONCURRENCY:-2}"]
