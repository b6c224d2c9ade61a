"""The wrong-deposit recovery service: the Django project and its one app."""

from recovery.celery import app as celery_app

__all__ = ["celery_app"]
