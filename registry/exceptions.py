"""Domain errors: each names the field and the rule, so the API can answer 400 with something to act on."""

from __future__ import annotations

from collections.abc import Iterable

from .validators import Finding


class RegistryError(Exception):
    """A write refused because the data breaks a rule; nothing was saved."""

    def __init__(self, findings: Iterable[Finding]):
        self.findings = [f for f in findings if f.severity == "error"]
        super().__init__("; ".join(f"{f.field}: {f.message}" for f in self.findings))

    def as_dict(self) -> dict[str, list[dict[str, str]]]:
        errors: dict[str, list[dict[str, str]]] = {}
        for f in self.findings:
            errors.setdefault(f.field, []).append(
                {"rule": f.rule, "message": f.message, "suggestion": f.suggestion}
            )
        return errors
