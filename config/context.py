"""Template context every page shares."""

from django.conf import settings
from django.http import HttpRequest


def deployment(request: HttpRequest) -> dict[str, bool]:
    # Every page (and the admin) says so when it runs with DEBUG: a demo, not a deployment.
    return {"SEGIS_DEBUG": settings.DEBUG}
