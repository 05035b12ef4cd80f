"""Which catalogue kinds need a supervisory inspection at which stage (data/supervision_
requirements.csv), and the finding: a device registered for use without one, as one SQL set."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.db.models import Exists, OuterRef, Q, QuerySet

from registry.models import Equipment, EquipmentStatus, LifecycleEvent

from .models import Stage, SupervisoryInspection

TABLE = Path(__file__).parent / "data" / "supervision_requirements.csv"
# A device "registered for use" still in the register: cancelled and scrapped ones are history.
REGISTERED = (EquipmentStatus.IN_USE, EquipmentStatus.SUSPENDED)
PASSING = ("pass", "conditional")
# Stages every registered device went through; modification and major repair only if it did.
ALWAYS = (Stage.MANUFACTURE, Stage.INSTALLATION)


@dataclass(frozen=True)
class Requirement:
    catalogue_code: str
    stage: str
    basis: str

    @property
    def prefix(self) -> str:
        """The code prefix it covers: kind 1000 → "1", class 2100 → "21", variety 2220 → "222"."""
        return self.catalogue_code.rstrip("0") or self.catalogue_code


@cache
def requirements() -> tuple[Requirement, ...]:
    with TABLE.open(encoding="utf-8") as handle:
        rows = [
            Requirement(r["catalogue_code"], r["stage"], r["basis"]) for r in csv.DictReader(handle)
        ]
    unknown = {r.stage for r in rows} - set(Stage.values)
    if unknown:
        raise ValueError(f"{TABLE.name}: unknown stages {sorted(unknown)}")
    return tuple(rows)


def required_for(variety_code: str) -> dict[str, str]:
    """stage → basis of the supervisory inspections a device of this variety needs."""
    return {r.stage: r.basis for r in requirements() if variety_code.startswith(r.prefix)}


def covers(stage: str) -> Q:
    """The devices whose variety the stage's rule applies to."""
    prefixes = [r.prefix for r in requirements() if r.stage == stage]
    q = Q(pk__in=[])
    for prefix in prefixes:
        q |= Q(variety__code__startswith=prefix)
    return q


def _passed(stage: str, since=None) -> Exists:
    found = SupervisoryInspection.objects.filter(
        equipment=OuterRef("pk"), stage=stage, conclusion__in=PASSING
    )
    if since is not None:
        found = found.filter(inspected_on__gte=since)
    return Exists(found)


def _needs(stage: str) -> Q:
    """The devices this stage's rule applies to and that lack a passed inspection of it."""
    if stage in ALWAYS:
        return covers(stage) & ~_passed(stage)
    # A modification or major repair recorded in the history wants an inspection on or after it.
    event = LifecycleEvent.objects.filter(equipment=OuterRef("pk"), kind=stage)
    later = SupervisoryInspection.objects.filter(
        equipment=OuterRef(OuterRef("pk")), stage=stage, conclusion__in=PASSING,
        inspected_on__gte=OuterRef("occurred_on"),
    )  # fmt: skip
    return covers(stage) & Exists(event.filter(~Exists(later)))


def registration_required() -> Q:
    """The devices that need a supervisory inspection before they may be registered for use: at
    manufacture or at installation, by the rule table (the 监督检验率's denominator)."""
    required = Q(pk__in=[])
    for stage in ALWAYS:
        required |= covers(stage)
    return required


def registration_supervised() -> Q:
    """Of those, the devices with a passed inspection of every stage they need (its numerator)."""
    supervised = Q()
    for stage in ALWAYS:
        supervised &= ~(covers(stage) & ~_passed(stage))
    return supervised


def missing(queryset: QuerySet[Equipment] | None = None, stage: str | None = None) -> QuerySet:
    """Registered devices missing a required supervisory inspection (each annotated
    `missing_<stage>`), inside `queryset` (scope it first: `Equipment.objects.visible_to(user)`)."""
    queryset = Equipment.objects.all() if queryset is None else queryset
    stages = [stage] if stage else list(Stage.values)
    annotated = queryset.filter(status__in=REGISTERED).annotate(
        **{f"missing_{s}": _needs(s) for s in Stage.values}
    )
    any_missing = Q(pk__in=[])
    for s in stages:
        any_missing |= Q(**{f"missing_{s}": True})
    return annotated.filter(any_missing)


def missing_stages(device) -> list[str]:
    """The stages an annotated row of `missing()` lacks."""
    return [s for s in Stage.values if getattr(device, f"missing_{s}", False)]
