"""Jurisdiction scoping: the one queryset API every read goes through."""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from django.db import models

if TYPE_CHECKING:
    from .models import User


class ScopedQuerySet(models.QuerySet):
    """A queryset whose rows belong to a region; `scope_field` names the path to that region."""

    scope_field = "region"

    def within_prefix(self, prefix: str) -> Self:
        """Rows whose region code starts with the prefix ('' = everywhere)."""
        if not prefix:
            return self.all()
        # Filtering on the region's code (its primary key) needs no join: it is the local region_id column,
        # and Django's automatic varchar_pattern_ops index on that column serves the LIKE 'prefix%'.
        return self.filter(**{f"{self.scope_field}__code__startswith": prefix})

    def visible_to(self, user: User | None) -> Self:
        # Scope first: every later filter then works inside the jurisdiction.
        if user is None or not user.is_authenticated:
            return self.none()
        prefix = user.jurisdiction_prefix
        return self.none() if prefix is None else self.within_prefix(prefix)
