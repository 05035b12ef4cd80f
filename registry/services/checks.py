"""What every registry write shares: refusing with a finding, the jurisdiction check, placing a geometry."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NoReturn

from django.contrib.gis.geos import GEOSGeometry

from accounts.models import User
from geo import crs

from ..exceptions import RegistryError
from ..placement import Placement, place
from ..validators import ERROR, Finding

Geometry = GEOSGeometry | tuple[float, float] | None


def error(field: str, rule: str, message: str) -> Finding:
    """A refusing finding."""
    return Finding(field, rule, message, ERROR)


def refuse(field: str, rule: str, message: str) -> NoReturn:
    """Refuse the write with one finding."""
    raise RegistryError([error(field, rule, message)])


def raise_on_errors(findings: Iterable[Finding]) -> list[Finding]:
    """Refuse the write if any finding is an error; otherwise the warnings."""
    findings = list(findings)
    if any(f.severity == ERROR for f in findings):
        raise RegistryError(findings)
    return [f for f in findings if f.severity != ERROR]


def ensure_in_jurisdiction(acting_user: User | None, region_code: str) -> None:
    """A user writes only inside their own jurisdiction (None: a system process such as the demo loader)."""
    if acting_user is None:
        return
    # An anonymous user has no jurisdiction at all: refused like a user without an agency.
    prefix = getattr(acting_user, "jurisdiction_prefix", None)
    if prefix is None or not region_code.startswith(prefix):
        refuse(
            "region",
            "jurisdiction",
            f"区划 {region_code} 不在您的辖区内 / outside your jurisdiction",
        )


def placed(
    geometry: Geometry, source_crs: crs.CRS | str, declared_region_code: str, field_name: str
) -> Placement:
    """The geometry placed in its county, refused when it has no place at all."""
    placement = place(
        geometry,
        source_crs=crs.CRS.parse(source_crs),
        declared_region_code=declared_region_code,
        field_name=field_name,
    )
    raise_on_errors(placement.findings)
    if placement.region is None:
        refuse(
            field_name,
            "location.required",
            "需要位置或行政区划代码 / give a location or a division code",
        )
    return placement
