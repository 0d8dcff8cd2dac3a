"""runq configuration; exposes the Celery `app` for `celery -A config worker|beat|flower`."""

from config.celery_app import app

__all__ = ["app"]
