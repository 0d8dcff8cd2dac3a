# One image for every runq process; the compose command picks which one runs.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config config
COPY workers workers
COPY tasks tasks
COPY gateway gateway
COPY simulator simulator
RUN pip install --no-cache-dir ".[postgres]" \
    && useradd --create-home runq
USER runq
CMD ["runq", "--help"]
