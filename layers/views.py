"""Pages: the home dashboard of the user's jurisdiction."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .dashboard_map import OVERDUE_CLASSES, dashboard_map
from .maps import map_fragment
from .summary import jurisdiction_summary


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if request.user.jurisdiction_prefix is None:
        return render(request, "layers/no_jurisdiction.html", status=403)
    summary = jurisdiction_summary(request.user)
    return render(
        request,
        "layers/home.html",
        {
            "summary": summary,
            "map": map_fragment(dashboard_map(request.user, summary)),
            "overdue_classes": OVERDUE_CLASSES,
        },
    )
