"""Import errors: each names the field and the rule, so the API answers 400 with something to act on."""

from __future__ import annotations

from typing import NoReturn

from registry.exceptions import RegistryError
from registry.validators import ERROR, WARNING, Finding


class IntakeError(RegistryError):
    """An uploaded file refused before any row is read or written; nothing was kept.

    A RegistryError underneath, so the project's API exception handler answers it like every
    refused registry write: 400 with ``{"errors": {field: [{rule, message, suggestion}]}}``.
    """


def refuse(field: str, rule: str, message: str, suggestion: str = "") -> NoReturn:
    raise IntakeError([Finding(field, rule, message, ERROR, suggestion)])


def notice(field: str, rule: str, message: str, suggestion: str = "") -> Finding:
    """A warning kept with the upload: the file is accepted, the user is told."""
    return Finding(field, rule, message, WARNING, suggestion)
