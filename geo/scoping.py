"""Jurisdiction scoping: the one queryset API every read goes through.

It lives in `geo` because a jurisdiction is a GB/T 2260 code prefix; the user is only asked for
its `jurisdiction_prefix` ('' = national, None = nothing), so `geo` imports no other app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from django.db import models


@dataclass(frozen=True)
class Scope:
    """A jurisdiction standing in for a user where only its prefix matters to `visible_to`: SQL
    cached per jurisdiction, the escalation runner picking for an incident's county."""

    jurisdiction_prefix: str
    is_authenticated = True


def prefix_of(user: Any) -> str | None:
    """The division-code prefix a user reads: None (nothing) for the anonymous."""
    if user is None or not user.is_authenticated:
        return None
    return user.jurisdiction_prefix


class ScopedQuerySet(models.QuerySet):
    """A queryset whose rows belong to a region; `scope_lookup` is the path to that region's code."""

    scope_lookup = "region__code"

    def within_prefix(self, prefix: str) -> Self:
        """Rows whose region code starts with the prefix ('' = everywhere)."""
        if not prefix:
            return self.all()
        # Filtering on the region's code (its primary key) needs no join: it is the local region_id column,
        # and Django's automatic varchar_pattern_ops index on that column serves the LIKE 'prefix%'.
        return self.filter(**{f"{self.scope_lookup}__startswith": prefix})

    def visible_to(self, user: Any) -> Self:
        # Scope first: every later filter then works inside the jurisdiction.
        prefix = prefix_of(user)
        return self.none() if prefix is None else self.within_prefix(prefix)
