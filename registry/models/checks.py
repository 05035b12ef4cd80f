"""Conditions the registry models' constraints share."""

from __future__ import annotations

from django.contrib.gis.db.models.functions import IsEmpty
from django.db.models import Q


def not_empty(field: str) -> Q:
    """No stored geometry is empty: a missing place is NULL, so every reader tests one thing."""
    return Q(**{f"{field}__isnull": True}) | ~Q(IsEmpty(field))
