"""Writes for what happens around the equipment: accidents, and the resources that answer them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from accounts import audit, policy
from accounts.models import User
from geo import crs

from ..exchange import changelog
from ..models import Accident, EmergencyResource, Equipment, Unit
from .checks import Geometry, ensure_in_jurisdiction, error, placed, raise_on_errors, refuse


@transaction.atomic
def record_accident(
    *,
    acting_user: User | None,
    occurred_at: dt.datetime,
    kind: str,
    location: Geometry = None,
    source_crs: crs.CRS | str = crs.CRS.WGS84,
    declared_region_code: str = "",
    equipment: Equipment | None = None,
    unit: Unit | None = None,
    severity: str = "ordinary",
    deaths: int = 0,
    injuries: int = 0,
    direct_loss: Decimal | float = 0,
    cause_class: str = "other",
    place_type: str = "other",
    address: str = "",
    description: str = "",
) -> Accident:
    """Record an accident at a place (or at its equipment's place when none is given)."""
    policy.require(acting_user, policy.Action.RECORD_ACCIDENT)
    raise_on_errors(
        error(name, f"{name}.negative", f"{name} 不能为负 / cannot be negative")
        for name, value in (
            ("deaths", deaths),
            ("injuries", injuries),
            ("direct_loss", direct_loss),
        )
        if value < 0
    )
    if location is None and equipment is not None:
        location, source_crs = equipment.geometry, crs.CRS.WGS84
        if location is not None and location.geom_type != "Point":
            location = location.point_on_surface
    placement = placed(location, source_crs, declared_region_code, "location")
    ensure_in_jurisdiction(acting_user, placement.region.code)
    accident = Accident.objects.create(
        occurred_at=occurred_at,
        location=placement.geometry,
        address=address,
        region=placement.region,
        equipment=equipment,
        unit=unit or (equipment.use_unit if equipment else None),
        kind=kind,
        severity=severity,
        deaths=deaths,
        injuries=injuries,
        direct_loss=Decimal(str(direct_loss)),
        cause_class=cause_class,
        place_type=place_type,
        description=description,
    )
    changelog.record(accident, changelog.ChangeOperation.CREATE)
    audit.record(acting_user, "accident.recorded", accident)
    return accident


@transaction.atomic
def register_resource(
    *,
    acting_user: User | None,
    name: str,
    resource_type: str,
    location: Geometry,
    source_crs: crs.CRS | str = crs.CRS.WGS84,
    capability: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    duty_hours: str = "24h",
    address: str = "",
    unit: Unit | None = None,
) -> EmergencyResource:
    """Register a rescue team, station or depot at its location."""
    policy.require(acting_user, policy.Action.MANAGE_RESOURCES)
    if location is None:
        refuse("location", "location.required", "应急资源必须有位置 / a resource needs a location")
    placement = placed(location, source_crs, "", "location")
    ensure_in_jurisdiction(acting_user, placement.region.code)
    resource = EmergencyResource.objects.create(
        name=name,
        resource_type=resource_type,
        location=placement.geometry,
        region=placement.region,
        capability=capability,
        contact_name=contact_name,
        contact_phone=contact_phone,
        duty_hours=duty_hours,
        address=address,
        unit=unit,
    )
    audit.record(acting_user, "resource.registered", resource)
    return resource
