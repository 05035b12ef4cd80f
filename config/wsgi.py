"""WSGI entry point for gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")
# The server connects as the application's own database role (config/settings/base.py).
os.environ.setdefault("SEGIS_DATABASE_ROLE", "app")
application = get_wsgi_application()
