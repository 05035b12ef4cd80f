"""Units from a file: matched by credit code, else by name in the county."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Q

from accounts.models import User

from ... import services
from ...models import Unit, UnitRole
from ...models.identifiers import already_registered
from ...validators import WARNING, Finding, check_credit_code
from .. import cells
from ..pipeline import ImportOutcome, ImportRequest
from ..readers import RowReader
from .common import (
    CHANGED,
    NEW,
    UNCHANGED,
    UNIT_ROLES,
    Row,
    allowed,
    choice_key,
    differences,
    labels,
    place_row,
    run_dataset,
    update_record,
    visible,
)


def import_units(
    rows: RowReader, request: ImportRequest, *, acting_user: User | None, commit: bool, progress
) -> ImportOutcome:
    """Organisations: matched by credit code, else by name in the same county."""

    def write(row: Row, seen: dict[tuple, int]) -> str | None:
        credit_code = row.get("credit_code", cells.code)
        name = row.get("name")
        roles = _roles(row)
        if credit_code:
            for finding in check_credit_code(credit_code):
                row.add(finding)
        placement = place_row(row, acting_user)
        if row.failed or placement is None:
            return None
        key = ("credit_code", credit_code) if credit_code else ("name", name, placement.region.code)
        if not row.once(seen, key, "credit_code" if credit_code else "name", "单位 / unit"):
            return None
        wanted: dict[str, Any] = {
            element: value
            for element in ("name", "address", "contact_name", "contact_phone")
            if (value := row.get(element)) is not None
        }
        if roles:
            wanted["roles"] = roles
        if credit_code:
            wanted["credit_code"] = credit_code
        if placement.geometry is not None:
            wanted["location"] = placement.geometry
        wanted["region_id"] = placement.region.code
        unit = _find_unit(credit_code, name, placement.region.code)
        if unit is not None and not visible(unit, acting_user):
            # Another jurisdiction's unit holds the code: say so, and nothing of that unit.
            row.add(already_registered("credit_code"))
            return None
        if unit is None and credit_code:
            _warn_namesake(row, name, placement.region.code)
        if unit is None:
            services.register_unit(
                acting_user=acting_user,
                name=name,
                roles=roles or [UnitRole.USE],
                credit_code=credit_code or "",
                address=wanted.get("address", ""),
                location=placement.geometry,
                region_code=row.get("division_code", cells.code) or "",
                contact_name=wanted.get("contact_name", ""),
                contact_phone=wanted.get("contact_phone", ""),
            )
            return NEW
        if not allowed(row, acting_user, unit.region_id):
            return None
        changes = differences(unit, wanted)
        if not changes:
            return UNCHANGED
        update_record(unit, changes, acting_user=acting_user, action="unit.updated")
        return CHANGED

    return run_dataset(rows, request, progress, write)


def _roles(row: Row) -> list[str] | None:
    """Roles as a list of codes; a file without the column registers use units."""
    value = row.get("roles")
    if value is None:
        return None
    roles = []
    for part in re.split(r"[,，;；、/|\s]+", value):
        if not part:
            continue
        found = UNIT_ROLES.get(choice_key(part))
        if found is None:
            row.error(
                "roles",
                "roles.unknown",
                f"无法识别的单位类别 {part!r} / unknown unit role {part!r}",
                labels(UnitRole),
            )
        elif found not in roles:
            roles.append(found)
    return roles


def _warn_namesake(row: Row, name: str, region_code: str) -> None:
    """A unit of the same name in the same county under another code is most likely this one
    with a mistyped code: registered anyway (branches share names), but the user is told."""
    other = (
        Unit.objects.filter(name=name, region_id=region_code, credit_code__isnull=False)
        .values_list("credit_code", flat=True)
        .first()
    )
    if other:
        row.add(
            Finding(
                "credit_code",
                "unit.namesake",
                f"本县已有同名单位，信用代码为 {other} / a unit of this name in this county has "
                f"credit code {other}",
                WARNING,
                suggestion=other,
            )
        )


def _find_unit(credit_code: str | None, name: str, region_code: str) -> Unit | None:
    units = Unit.objects.select_for_update()
    if credit_code:
        unit = units.filter(credit_code=credit_code).first()
        if unit is not None:
            return unit
        # The same name in the same county without a code is the unit this row now gives a code to.
        units = units.filter(Q(credit_code__isnull=True) | Q(credit_code=""))
    return units.filter(name=name, region_id=region_code).order_by("pk").first()
