# syntax=docker/dockerfile:1
# Build stage: wheels for every pinned dependency (compilers stay here).
FROM python:3.11-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt

# Final stage: the virtualenv and the application only, run as a non-root user.
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORT=3978 \
    DATABASE_URL=sqlite+aiosqlite:////var/lib/maebashi-bot/bot.db ENVIRONMENT=production
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin bot \
    && mkdir -p /var/lib/maebashi-bot && chown bot /var/lib/maebashi-bot
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root app.py ./
COPY --chown=root:root bot ./bot
COPY --chown=root:root policy_rules ./policy_rules
COPY --chown=root:root cards ./cards
COPY --chown=root:root wg ./wg
COPY --chown=root:root manifest ./manifest
USER bot
EXPOSE 3978
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os,urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT','3978'), timeout=2).status == 200 else 1)"
CMD ["python", "app.py"]
