"""The API token page: a signed-in user issues a token (its key shown once), revokes it, and reads
how to connect QGIS, ArcGIS Pro and GDAL to the OGC API with it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from .tokens import current_token, issue_api_token, revoke_api_tokens

# The new key crosses the post/redirect/get in the session and is removed on the first read.
_NEW_KEY = "segis_new_api_token"


@login_required
@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """GET shows the token and the instructions; POST issues a new token (the old one stops), or
    with action=revoke stops the current one."""
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            revoke_api_tokens(request.user, acting_user=request.user)
        else:
            request.session[_NEW_KEY] = issue_api_token(request.user).key
        # Post/redirect/get: reloading the page must not replace the token again.
        return redirect("api-token")
    response = render(
        request,
        "accounts/api_token.html",
        {
            "token": current_token(request.user),
            "key": request.session.pop(_NEW_KEY, None),
            "ogcapi_url": request.build_absolute_uri(reverse("ogcapi:landing")).rstrip("/"),
        },
    )
    # The page shows a credential: no cache keeps it.
    response["Cache-Control"] = "no-store, private"
    return response
