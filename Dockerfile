# The production image: the project as a wheel on its runtime dependencies, run as non-root.
# The Python minor version matches pyproject's requires-python (tests/unit/test_deployment.py).

# Stage 1: build the project's wheel, with nothing but the build backend.
FROM python:3.11.14-slim-bookworm AS build

WORKDIR /src
COPY pyproject.toml ./
COPY api ./api
COPY workflows ./workflows
COPY activities ./activities
COPY foundation ./foundation
COPY processes ./processes
COPY simulators ./simulators
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# Stage 2: the runtime: locked dependencies (hashes checked), then the wheel; no dev extras.
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    ORDER_API_MIGRATIONS_ROOT=/app

RUN python -m venv /opt/venv

WORKDIR /app

# Dependencies before the code, so a code change does not reinstall them.
COPY requirements.runtime.lock ./
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements.runtime.lock

COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-deps /wheels/order_api-*.whl && rm -rf /wheels

# foundation.migrate reads these from ORDER_API_MIGRATIONS_ROOT: a wheel carries no migrations.
COPY alembic.ini ./
COPY migrations ./migrations

# /data holds the simulators' ledger files; a fresh named volume mounted there takes its owner.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin orderapi \
    && mkdir /data && chown orderapi /data
USER 10001

EXPOSE 8000
# The slim image has no curl; the interpreter is already there.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2)"]
# h11 with a bounded header buffer (16 KiB of headers plus 8 KiB for the request line); the app
# refuses headers over ORDER_API_MAX_REQUEST_HEADER_BYTES itself as well (adrs/0005).
CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000", \
     "--http", "h11", "--h11-max-incomplete-event-size", "24576"]
