"""Local development: debug on, demo data, served by runserver."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
