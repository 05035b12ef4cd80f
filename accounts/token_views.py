"""The API token page: a signed-in user sees their token, issues a new one, and reads how to
connect QGIS, ArcGIS Pro and GDAL to the OGC API with it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

from .tokens import issue_api_token


@login_required
@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """GET shows the token and the instructions; POST issues a new token (the old one stops)."""
    if request.method == "POST":
        issue_api_token(request.user)
        # Post/redirect/get: reloading the page must not replace the token again.
        return redirect("api-token")
    response = render(
        request,
        "accounts/api_token.html",
        {
            "token": Token.objects.filter(user=request.user).first(),
            "ogcapi_url": request.build_absolute_uri(reverse("ogcapi:landing")).rstrip("/"),
        },
    )
    # The page shows a credential: no cache keeps it.
    response["Cache-Control"] = "no-store, private"
    return response
