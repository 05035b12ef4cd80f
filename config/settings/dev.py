"""Local development: debug on, demo data, served by runserver."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)

# Serve static files straight from the app folders: no collectstatic step before running.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
