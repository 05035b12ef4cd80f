"""The one domain error and the one JSON error envelope of every SEGIS API.

Every refused request answers ``{"errors": {field: [{"rule", "message", "suggestion"}]}}``: the
field (or query parameter) at fault, a short stable rule id a client may test, a message a user can
act on (Chinese, then English) and, when there is one, a value that would be accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

ERROR = "error"
# The rule of a message that names none: the value given cannot be read or is not allowed.
INVALID = "invalid"

ErrorItem = dict[str, str]
Errors = dict[str, list[ErrorItem]]


class Finding(Protocol):
    """What a domain error is made of (registry.validators.Finding is one)."""

    field: str
    rule: str
    message: str
    severity: str
    suggestion: str


@dataclass(frozen=True)
class Problem:
    """A Finding for common/ and geo/, which come before the registry and cannot import its own."""

    field: str
    rule: str
    message: str
    severity: str = ERROR
    suggestion: str = ""


def error_item(message: str, rule: str = INVALID, suggestion: str = "") -> ErrorItem:
    """One problem of a field, as the envelope lists it."""
    return {"rule": rule, "message": str(message), "suggestion": suggestion}


def error_dict(
    errors: Mapping[str, str | Sequence[ErrorItem]],
    rules: Mapping[str, str] | None = None,
    rule: str = INVALID,
) -> Errors:
    """The envelope's inner dict: a plain message becomes one item under `rules[field]` (else
    `rule`); a list of items is kept as it is."""
    rules = rules or {}
    return {
        field: [error_item(value, rules.get(field, rule))]
        if isinstance(value, str)
        else [dict(item) for item in value]
        for field, value in errors.items()
    }


def envelope(errors: Errors) -> dict[str, Errors]:
    """The body of every error answer."""
    return {"errors": errors}


class DomainError(Exception):
    """A request refused because it breaks a rule; nothing was saved. The APIs answer it with its
    `status` (400; a limit reached says 429) naming each field, rule and message."""

    status = 400

    def __init__(self, findings: Iterable[Finding]):
        # Warnings travel with accepted data; only errors refuse it.
        self.findings = [f for f in findings if f.severity == ERROR]
        super().__init__("; ".join(f"{f.field}: {f.message}" for f in self.findings))

    def as_dict(self) -> Errors:
        """The envelope's inner dict: each field with its problems, in the order found."""
        errors: Errors = {}
        for f in self.findings:
            errors.setdefault(f.field, []).append(error_item(f.message, f.rule, f.suggestion))
        return errors
