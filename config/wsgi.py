"""WSGI entry point for gunicorn: Django, behind the fast path for pass-carrying reads."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")
django_application = get_wsgi_application()

# After the line above: the fast path's imports need the apps loaded. See layers/pass_front.py.
from layers.pass_front import PassFront  # noqa: E402

application = PassFront(django_application)
