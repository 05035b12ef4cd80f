"""Patrol errors: each names the field and the rule, and the API answers them with a 400."""

from __future__ import annotations

from typing import NoReturn

from common.errors import DomainError
from registry.validators import ERROR, Finding


class PatrolError(DomainError):
    """A plan that cannot be made as asked; nothing was saved.

    A DomainError, so the project's API exception handler answers it like every refused
    request: 400 with ``{"errors": {field: [{rule, message, suggestion}]}}``.
    """


def refuse(field: str, rule: str, message: str) -> NoReturn:
    raise PatrolError([Finding(field, rule, message, ERROR)])
