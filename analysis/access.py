"""Who may read the desk: the figures are aggregates of the jurisdiction with no personal data, so
every role with a jurisdiction reads them but enterprise accounts (the supervised side)."""

from __future__ import annotations

from typing import Any

from accounts.models import Role
from common.http import json_errors


def may_read(user: Any) -> bool:
    return bool(
        user
        and user.is_authenticated
        and user.jurisdiction_prefix is not None
        and user.role != Role.ENTERPRISE
    )


def refusal(user: Any):
    """The 403 a file download answers to a user who may not read the desk; None if they may."""
    if may_read(user):
        return None
    return json_errors(
        {"user": "您的账号不能查看统计分析 / your account may not read the analysis desk"},
        status=403,
        rule="not_allowed",
    )
