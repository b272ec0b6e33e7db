FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY billbeat billbeat
COPY toss toss
COPY models models
COPY scheduler scheduler
COPY worker worker
RUN pip install --no-cache-dir . && useradd --system --uid 10001 billbeat
USER billbeat
CMD ["celery", "-A", "worker", "worker", "--pool", "threads", "--concurrency", "32", "-E"]
