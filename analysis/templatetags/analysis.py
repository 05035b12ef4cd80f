"""How the desk writes a figure: counts with thousands separators, percentages and per-10,000 rates
with their unit, a dash where there is no figure (no denominator)."""

from __future__ import annotations

from django import template

from analysis.indicators import COUNT, PERCENT

register = template.Library()


@register.filter
def figure(value, unit: str) -> str:
    if value is None:
        return "—"
    if unit == COUNT:
        return f"{value:,}"
    if unit == PERCENT:
        return f"{value:.2f} %"
    return f"{value:.4f}"


@register.filter
def of(values: dict, key: str):
    """A dict's value by a key held in a variable (`row.values|of:indicator.key`)."""
    return values.get(key)
