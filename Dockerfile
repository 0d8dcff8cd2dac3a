# One image for every runq process; the compose command picks which one runs.
FROM python:3.11-slim
WORKDIR /app
# The tested dependency set first (its own layer, cached across code changes), then runq
# itself without re-resolving anything.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml README.md ./
COPY config config
COPY workers workers
COPY tasks tasks
COPY gateway gateway
COPY simulator simulator
RUN pip install --no-cache-dir --no-deps ".[postgres]" \
    && useradd --create-home runq
USER runq
CMD ["runq", "--help"]
