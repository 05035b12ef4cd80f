"""WSGI entry point for gunicorn: Django, behind the fast path for pass-carrying map tiles."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")
django_application = get_wsgi_application()

# After the line above: the fast path's imports need the apps loaded. See layers/fast_tiles.py.
from layers.fast_tiles import FastTiles  # noqa: E402

application = FastTiles(django_application)
