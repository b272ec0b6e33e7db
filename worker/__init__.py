"""Celery workers that charge billing keys (``celery -A worker worker``)."""

from worker.app import app

__all__ = ["app"]
