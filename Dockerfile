FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv

WORKDIR /app

# Dependencies before the code, so a code change does not reinstall them.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

COPY pyproject.toml alembic.ini ./
COPY api ./api
COPY workflows ./workflows
COPY activities ./activities
COPY foundation ./foundation
COPY processes ./processes
COPY simulators ./simulators
COPY migrations ./migrations
# Editable, because foundation.migrate finds alembic.ini and migrations/ beside the packages.
RUN pip install --no-deps -e .

# /data holds the simulators' ledger files; a fresh named volume mounted there takes its owner.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin orderapi \
    && mkdir /data && chown orderapi /data
USER orderapi

EXPOSE 8000
# The slim image has no curl; the interpreter is already there.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2)"]
# h11 with a bounded header buffer (16 KiB of headers plus 8 KiB for the request line); the app
# refuses headers over ORDER_API_MAX_REQUEST_HEADER_BYTES itself as well (adrs/0005).
CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000", \
     "--http", "h11", "--h11-max-incomplete-event-size", "24576"]
