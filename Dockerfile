# sarcasm-bot in HTTP mode, e.g. on Cloud Run (deploy with --no-cpu-throttling: replies are
# generated after Slack is acknowledged, and throttled CPU would starve that work).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=3000 \
    DATA_DIR=/home/app/.sarcasm \
    STORE_URL=sqlite:////home/app/.sarcasm/store.db

RUN groupadd --gid 10001 app && useradd --create-home --uid 10001 --gid 10001 app
WORKDIR /srv/sarcasm-bot

# Every dependency version is pinned by the constraints file the tests and CI use.
COPY constraints.txt pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY tuning ./tuning
RUN pip install --constraint constraints.txt .

# Numeric, so a runtime can check that it is not root (runAsNonRoot) without /etc/passwd.
USER 10001:10001
EXPOSE 3000
# For `docker run` and Compose only: Cloud Run ignores HEALTHCHECK and uses the startup and
# liveness probes set at deploy time (see the README). Docker only marks the container unhealthy
# (it restarts nothing), so probing readiness (/healthz: 503 while the store is down) is right here.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '3000')}/healthz\", timeout=4)"]
CMD ["python", "-m", "bot"]
