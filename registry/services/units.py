"""Writes for the parties: organisations (units) and the people who work for them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from accounts import audit, policy
from accounts.models import User
from geo import crs

from .. import personal
from ..exceptions import RegistryError
from ..exchange import changelog
from ..models import Certificate, Person, Unit
from ..models.identifiers import already_registered, national_id_taken, unique_identifiers
from ..validators import check_credit_code
from .checks import Geometry, ensure_in_jurisdiction, error, placed, raise_on_errors


def register_unit(
    *,
    acting_user: User | None,
    name: str,
    roles: Sequence[str],
    credit_code: str = "",
    address: str = "",
    location: Geometry = None,
    source_crs: crs.CRS | str = crs.CRS.WGS84,
    region_code: str = "",
    contact_name: str = "",
    contact_phone: str = "",
) -> Unit:
    """Register an organisation; its credit code must carry the right check character."""
    policy.require(acting_user, policy.Action.REGISTER)
    credit_code = credit_code.strip().upper()
    findings = check_credit_code(credit_code) if credit_code else []
    if not name.strip():
        findings.append(error("name", "name.required", "单位名称必填 / name is required"))
    if not roles:
        findings.append(error("roles", "roles.required", "至少一个角色 / at least one role"))
    raise_on_errors(findings)
    placement = placed(location, source_crs, region_code, "location")
    ensure_in_jurisdiction(acting_user, placement.region.code)
    with transaction.atomic():
        # Any unit's, in or out of the jurisdiction: the answer names the field, not the unit.
        if credit_code and Unit.objects.filter(credit_code=credit_code).exists():
            raise RegistryError([already_registered("credit_code")])
        with unique_identifiers():
            unit = Unit.objects.create(
                credit_code=credit_code or None,
                name=name.strip(),
                roles=list(roles),
                address=address,
                location=placement.geometry,
                region=placement.region,
                contact_name=contact_name,
                contact_phone=contact_phone,
            )
        changelog.record(unit, changelog.ChangeOperation.CREATE)
        audit.record(acting_user, "unit.registered", unit)
    return unit


@transaction.atomic
def register_person(
    *,
    acting_user: User | None,
    name: str,
    role: str,
    region_code: str = "",
    employer: Unit | None = None,
    national_id: str = "",
    phone: str = "",
    certificates: Sequence[dict[str, Any]] = (),
) -> Person:
    """Register a person with certificates; the ID number is stored encrypted and only ever shown masked."""
    policy.require(acting_user, policy.Action.REGISTER)
    region_code = region_code or (employer.region_id if employer else "")
    findings = []
    if not region_code:
        findings.append(
            error(
                "region", "region.required", "需要所在区划或工作单位 / give a region or an employer"
            )
        )
    national_id = national_id.strip().upper()
    if national_id and (len(national_id) != 18 or not national_id[:17].isdigit()):
        findings.append(
            error(
                "national_id",
                "national_id.format",
                "身份证号应为18位 / national ID must be 18 characters",
            )
        )
    for index, cert in enumerate(certificates):
        if cert["expires_on"] < cert["issued_on"]:
            findings.append(
                error(
                    f"certificates[{index}]",
                    "certificate.dates",
                    "有效期早于发证日期 / expires before issued",
                )
            )
    raise_on_errors(findings)
    ensure_in_jurisdiction(acting_user, region_code)
    id_hash = personal.lookup_hash(national_id)
    # Anyone's, in or out of the jurisdiction: the answer names the field, not the person.
    if id_hash and national_id_taken(id_hash):
        raise RegistryError([already_registered("national_id")])
    with unique_identifiers():
        person = Person.objects.create(
            name=name,
            role=role,
            employer=employer,
            region_id=region_code,
            national_id_encrypted=personal.encrypt(national_id),
            national_id_hash=id_hash,
            national_id_masked=personal.mask_national_id(national_id) if national_id else "",
            phone=phone,
        )
    Certificate.objects.bulk_create(Certificate(person=person, **cert) for cert in certificates)
    audit.record(
        acting_user,
        "person.registered",
        person,
        after=audit.snapshot(person, exclude=("national_id_encrypted", "national_id_hash")),
    )
    return person
