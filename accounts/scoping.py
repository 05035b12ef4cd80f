"""Jurisdiction scoping: the one queryset API every read goes through."""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from django.db import models

if TYPE_CHECKING:
    from .models import User


class ScopedQuerySet(models.QuerySet):
    """A queryset whose rows belong to a region; `scope_field` names the path to the region's code."""

    scope_field = "region"

    def visible_to(self, user: User | None) -> Self:
        # Scope first: every later filter then works inside the jurisdiction.
        prefix = getattr(user, "jurisdiction_prefix", None) if user is not None and user.is_authenticated else None
        if prefix is None:
            return self.none()
        if prefix == "":
            return self.all()
        return self.filter(**{f"{self.scope_field}_id__startswith": prefix})
