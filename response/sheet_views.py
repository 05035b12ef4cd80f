"""The printable incident sheet (issue 4): one incident's facts and map, to print or to attach.

`?download=1` answers the same page as an attachment with its stylesheets and scripts written
into it, so the file still shows its map when opened from a report, away from the server.
"""

from __future__ import annotations

import base64
import mimetypes
import posixpath
import re
from pathlib import Path

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from rest_framework.generics import GenericAPIView, get_object_or_404
from rest_framework.renderers import TemplateHTMLRenderer

from common.http import content_disposition

from . import services
from .api import PERMISSIONS
from .models import Incident
from .sheet import incident_facts, sheet_map, sheet_queryset

TEMPLATE = "response/incident_sheet.html"
_SCRIPT = re.compile(r'<script\b[^>]*\bsrc="([^"]+)"[^>]*>\s*</script>', re.IGNORECASE)
_STYLESHEET = re.compile(
    r'<link\b(?=[^>]*\brel="stylesheet")[^>]*\bhref="([^"]+)"[^>]*>', re.IGNORECASE
)
_CSS_URL = re.compile(r"""url\((['"]?)([^)'"]+)\1\)""")


def _static_prefix() -> str:
    url = settings.STATIC_URL
    return url if url.startswith("/") else "/" + url


def _static_bytes(name: str) -> bytes | None:
    """A file under the static root by its name (``vendor/leaflet/leaflet.js``), or None."""
    found = finders.find(name)
    if found:
        return Path(found).read_bytes()
    if staticfiles_storage.exists(name):
        with staticfiles_storage.open(name) as handle:
            return handle.read()
    return None


def _static_name(url: str) -> str | None:
    prefix = _static_prefix()
    return url[len(prefix) :].split("?", 1)[0] if url.startswith(prefix) else None


def _data_uri(name: str) -> str | None:
    content = _static_bytes(name)
    if content is None:
        return None
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(content).decode()}"


def _stylesheet(name: str, text: str) -> str:
    """A stylesheet's text with the images it names relative to itself written in."""

    def image(match: re.Match) -> str:
        ref = match.group(2)
        if ref.startswith(("data:", "/", "#")) or "://" in ref:
            return match.group(0)
        uri = _data_uri(posixpath.normpath(posixpath.join(posixpath.dirname(name), ref)))
        return f'url("{uri}")' if uri else match.group(0)

    return _CSS_URL.sub(image, text)


def standalone(html: str) -> str:
    """The page with its own scripts, stylesheets and images written in, for a file opened away
    from the server (attached to a report)."""

    def script(match: re.Match) -> str:
        name = _static_name(match.group(1))
        content = _static_bytes(name) if name else None
        if content is None:
            return match.group(0)
        return "<script>" + content.decode().replace("</script", "<\\/script") + "</script>"

    def stylesheet(match: re.Match) -> str:
        name = _static_name(match.group(1))
        content = _static_bytes(name) if name else None
        if content is None:
            return match.group(0)
        return f"<style>{_stylesheet(name, content.decode())}</style>"

    def image(match: re.Match) -> str:
        uri = _data_uri(_static_name(match.group(1)))
        return f'"{uri}"' if uri else match.group(0)

    html = _STYLESHEET.sub(stylesheet, _SCRIPT.sub(script, html))
    return re.sub(rf'"({re.escape(_static_prefix())}[^"]+\.(?:png|svg|ico))"', image, html)


class IncidentSheet(GenericAPIView):
    """One incident of the user's jurisdiction as a printable page (another's is a 404)."""

    queryset = Incident.objects.all()
    permission_classes = PERMISSIONS
    renderer_classes = [TemplateHTMLRenderer]
    filter_backends: list = []
    pagination_class = None

    def dispatch(self, request, *args, **kwargs):
        # A page, not an API: an anonymous visitor is sent to sign in, as on every other page.
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return sheet_queryset(self.request.user)

    def get(self, request, pk: int) -> HttpResponse:
        incident = get_object_or_404(self.get_queryset(), pk=pk)
        services.record_shared_read(request.user, incident)
        facts = incident_facts(request.user, incident)
        download = request.query_params.get("download") == "1"
        context = {**facts, "map": sheet_map(facts), "download": download}
        html = render_to_string(TEMPLATE, context, request=request)
        if not download:
            return HttpResponse(html)
        response = HttpResponse(standalone(html))
        day = timezone.localtime(incident.reported_at)
        name = f"incident-{incident.pk}-{day:%Y%m%d}.html"
        response["Content-Disposition"] = content_disposition(f"事件单-{name}", name)
        return response
