"""Who may read the desk: the figures are aggregates of the jurisdiction with no personal data, so
every role with a jurisdiction reads them but enterprise accounts (the supervised side)."""

from __future__ import annotations

from typing import Any

from accounts.models import Role


def may_read(user: Any) -> bool:
    return bool(
        user
        and user.is_authenticated
        and user.jurisdiction_prefix is not None
        and user.role != Role.ENTERPRISE
    )
