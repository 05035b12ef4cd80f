"""Template context every page shares."""

from django.conf import settings
from django.http import HttpRequest


def deployment(request: HttpRequest) -> dict[str, bool]:
    # Every page (and the admin) says so when it runs with DEBUG: a demo, not a deployment.
    return {"SEGIS_DEBUG": settings.DEBUG}


def rights(request: HttpRequest) -> dict[str, dict[str, bool]]:
    """`may.<action>` for the signed-in user (accounts/policy.py): the header offers what the role
    may do, from the same table the views check."""
    from accounts import policy

    return {"may": {action.value: True for action in policy.rights(getattr(request, "user", None))}}
