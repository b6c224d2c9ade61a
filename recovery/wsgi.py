"""WSGI entry point. In production it runs the system checks first and refuses to start on an error:
gunicorn, unlike manage.py, runs none."""

import os

from django.conf import settings
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recovery.settings")
application = get_wsgi_application()
if settings.PRODUCTION:
    call_command("check")  # raises SystemCheckError, naming each error, and the server does not start
