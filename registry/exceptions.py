"""Registry errors: each names the field and the rule, so the API can answer 400 with something to act on."""

from __future__ import annotations

from common.errors import DomainError


class RegistryError(DomainError):
    """A registry write refused because the data breaks a rule; nothing was saved."""
