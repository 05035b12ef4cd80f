"""The accident page's links keep its parameters: `query|as_query` or `query|as_query:"measure"`
(without that one)."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template

register = template.Library()


@register.filter
def as_query(query: dict, without: str = "") -> str:
    return urlencode({k: v for k, v in query.items() if k != without and v not in ("", None)})
