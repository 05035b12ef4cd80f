"""QR labels: the public page's address of each device as a QR code (segno), drawn as inline SVG
so a label page prints from the browser without an image request."""

from __future__ import annotations

from dataclasses import dataclass

import segno
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from registry.models import Equipment


@dataclass(frozen=True)
class Label:
    device: Equipment
    url: str
    qr: SafeString


def public_url(request: HttpRequest, token: str) -> str:
    """The address a label carries: on PUBLIC_BASE_URL when the public site is another host than
    the one the label is printed from (an intranet desk)."""
    path = reverse("public:device", args=[token])
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return f"{base}{path}" if base else request.build_absolute_uri(path)


def label_of(request: HttpRequest, device: Equipment, token: str) -> Label:
    url = public_url(request, token)
    # Error correction M: a label that gets scratched in a lift car still scans.
    svg = segno.make(url, error="m").svg_inline(scale=4, border=2, omitsize=True)
    return Label(device, url, mark_safe(svg))  # noqa: S308  # nosec B308 B703: segno's own SVG, no user text
