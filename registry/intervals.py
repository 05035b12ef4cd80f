"""When the next inspection is due: the rule table (registry/data/inspection_rules.csv) applied to a device."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

FAIL = "fail"


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Rule:
    variety_prefix: str
    condition: Mapping[str, Any]
    first: bool
    interval_months: int

    def applies(self, variety_code: str, params: Mapping[str, Any]) -> bool:
        return variety_code.startswith(self.variety_prefix) and all(
            params.get(key) == value for key, value in self.condition.items()
        )

    @property
    def specificity(self) -> tuple[int, int]:
        return len(self.variety_prefix), len(self.condition)


class RuleBook:
    """The interval rules in memory, so bulk generators and services decide the same way."""

    def __init__(self, rules: Iterable[Rule]):
        self.rules = list(rules)
        # Only the parameters some rule looks at matter; caching on them makes bulk generation cheap.
        self._condition_keys = sorted({key for rule in self.rules for key in rule.condition})
        self._cache: dict[tuple, int | None] = {}

    @classmethod
    def from_database(cls) -> RuleBook:
        from .models import InspectionRule

        return cls(
            Rule(r.variety_prefix, r.condition, r.first, r.interval_months)
            for r in InspectionRule.objects.all()
        )

    def interval_months(
        self, variety_code: str, params: Mapping[str, Any], *, first: bool = False
    ) -> int | None:
        key = (variety_code, first, *(repr(params.get(name)) for name in self._condition_keys))
        if key not in self._cache:
            self._cache[key] = self._interval_months(variety_code, params, first)
        return self._cache[key]

    def _interval_months(
        self, variety_code: str, params: Mapping[str, Any], first: bool
    ) -> int | None:
        candidates = [r for r in self.rules if r.applies(variety_code, params)]
        if first and any(r.first for r in candidates):
            candidates = [r for r in candidates if r.first]
        else:
            candidates = [r for r in candidates if not r.first]
        if not candidates:
            return None
        return max(candidates, key=lambda r: r.specificity).interval_months

    def next_due(
        self,
        variety_code: str,
        params: Mapping[str, Any],
        conclusion: str,
        inspected_on: dt.date,
        *,
        first: bool = False,
    ) -> dt.date | None:
        """None after a failed inspection: the device stays overdue until it is re-inspected and passes."""
        if conclusion == FAIL:
            return None
        months = self.interval_months(variety_code, params, first=first)
        return add_months(inspected_on, months) if months else None
