"""Personnel and their certificates from a file: matched by national ID, else by name, employer and certificate."""

from __future__ import annotations

from typing import Any

from accounts import audit
from accounts.models import User
from geo.models import Region

from ... import personal, services
from ...models import Certificate, Person, Unit
from ...models.identifiers import (
    already_registered,
    certificate_held_elsewhere,
    national_id_taken,
)
from ...models.units import PersonRole
from ...validators import check_credit_code
from .. import cells
from ..pipeline import ImportOutcome, ImportRequest
from ..readers import RowReader
from .common import (
    CHANGED,
    NEW,
    PERSON_ROLES,
    UNCHANGED,
    Row,
    allowed,
    differences,
    run_dataset,
    scoped,
    update_record,
    visible,
)


def import_persons(
    rows: RowReader, request: ImportRequest, *, acting_user: User | None, commit: bool, progress
) -> ImportOutcome:
    """People and their certificates: matched by national ID, else by name, employer and certificate."""

    def write(row: Row, seen: dict[tuple, int]) -> str | None:
        name = row.get("name")
        role = row.choice("role", PERSON_ROLES, PersonRole)
        national_id = row.get("national_id", cells.code) or ""
        region_code = row.get("division_code", cells.code) or ""
        employer = _employer(row, acting_user)
        certificate = _certificate(row)
        if region_code and not Region.objects.filter(code=region_code).exists():
            row.error(
                "division_code",
                "region.unknown",
                f"未知的行政区划代码 / unknown division code {region_code}",
            )
        if row.failed or not allowed(row, acting_user, region_code):
            return None
        id_hash = personal.lookup_hash(national_id)
        if national_id and not row.once(seen, ("id", id_hash), "national_id", "人 / person"):
            return None
        number = certificate["number"] if certificate else ""
        if number and not row.once(
            seen, ("certificate", number), "certificate_number", "证书 / certificate"
        ):
            return None
        person = _find_person(id_hash, name, employer, number, region_code)
        if person is None and id_hash and national_id_taken(id_hash):
            # Someone the user cannot see holds the ID: say so, and nothing of that person.
            row.add(already_registered("national_id"))
            return None
        if number and certificate_held_elsewhere(number, person.pk if person else None):
            row.error(
                "certificate_number",
                "certificate.duplicate",
                f"证书编号 {number} 已属于另一人 / certificate {number} belongs to someone else",
            )
            return None
        if person is None:
            services.register_person(
                acting_user=acting_user,
                name=name,
                role=role,
                region_code=region_code,
                employer=employer,
                national_id=national_id,
                phone=row.get("phone") or "",
                certificates=[certificate] if certificate else [],
            )
            return NEW
        if id_hash and not visible(person, acting_user):
            # Another jurisdiction's person holds the ID: say so, and nothing of that person.
            row.add(already_registered("national_id"))
            return None
        if not allowed(row, acting_user, person.region_id):
            return None
        wanted: dict[str, Any] = {"name": name, "role": role, "region_id": region_code}
        if row.get("phone") is not None:
            wanted["phone"] = row.get("phone")
        if employer is not None:
            wanted["employer"] = employer
        result = UNCHANGED
        changes = differences(person, wanted)
        if changes:
            update_record(
                person,
                changes,
                acting_user=acting_user,
                action="person.updated",
                exchanged=False,  # persons stay in the province (their ID is encrypted here)
                exclude=("national_id_encrypted", "national_id_hash"),
            )
            result = CHANGED
        if certificate and _save_certificate(person, certificate, acting_user):
            result = CHANGED
        return result

    return run_dataset(rows, request, progress, write)


def _employer(row: Row, acting_user: User | None) -> Unit | None:
    credit_code = row.get("employer_credit_code", cells.code)
    if credit_code:
        for finding in check_credit_code(credit_code):
            row.add(finding, element="employer_credit_code")
        unit = Unit.objects.filter(credit_code=credit_code).first()
        if unit is None and not row.failed:
            row.error(
                "employer_credit_code",
                "employer.unknown",
                f"未登记的工作单位 {credit_code} / no unit is registered with credit code {credit_code}",
                "先导入单位 / import the units first",
            )
        return unit
    name = row.get("employer_name")
    if name is None:
        return None
    found = list(scoped(Unit.objects, acting_user).filter(name=name)[:2])
    if len(found) != 1:
        row.error(
            "employer_name",
            "employer.unknown" if not found else "employer.ambiguous",
            f"辖区内{'没有' if not found else '有多个'}名为 {name} 的单位 / "
            f"{'no' if not found else 'more than one'} unit named {name} in your jurisdiction",
            "填写工作单位统一社会信用代码 / give the employer's credit code",
        )
        return None
    return found[0]


def _certificate(row: Row) -> dict[str, Any] | None:
    number = row.get("certificate_number", cells.code)
    issued_on, expires_on = row.get("issued_on", cells.date), row.get("expires_on", cells.date)
    if number is None:
        return None
    for name, value in (("issued_on", issued_on), ("expires_on", expires_on)):
        if value is None and not row.failed:
            row.error(
                name,
                f"{name}.required",
                "有证书编号时须填发证日期和有效期 / a certificate needs its issue and expiry dates",
            )
    if issued_on and expires_on and expires_on < issued_on:
        row.error("expires_on", "certificate.dates", "有效期早于发证日期 / expires before issued")
    certificate = {"number": number, "issued_on": issued_on, "expires_on": expires_on}
    for name, element in (
        ("kind", "certificate_kind"),
        ("item_code", "item_code"),
        ("issuer", "issuer"),
    ):
        value = row.get(element, cells.code if name == "item_code" else cells.text)
        if value is not None:
            certificate[name] = value
    return certificate


def _find_person(
    id_hash: str, name: str, employer: Unit | None, number: str, region_code: str
) -> Person | None:
    people = Person.objects.select_for_update()
    if id_hash:
        return people.filter(national_id_hash=id_hash).first()
    people = people.filter(name=name, employer=employer)
    if number:
        return people.filter(certificates__number=number).first()
    return people.filter(region_id=region_code).order_by("pk").first()


def _save_certificate(person: Person, wanted: dict[str, Any], acting_user: User | None) -> bool:
    """Add or correct the person's certificate; True when anything was written."""
    certificate = person.certificates.filter(number=wanted["number"]).first()
    if certificate is None:
        certificate = Certificate.objects.create(person=person, **wanted)
        audit.record(acting_user, "certificate.added", certificate, region_code=person.region_id)
        return True
    changes = differences(certificate, wanted)
    if changes:
        update_record(
            certificate,
            changes,
            acting_user=acting_user,
            action="certificate.updated",
            exchanged=False,
            region_code=person.region_id,
        )
    return bool(changes)
