"""The Django permission groups the admin reads, derived from the rights table (accounts/policy.py)
and kept in line with it after every migrate."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

from .models import PERSONAL_DATA_ROLES, Role
from .policy import RIGHTS, Action

VIEW_REGISTRY = [
    "registry.view_equipment", "registry.view_unit", "registry.view_inspection", "registry.view_lifecycleevent",
    "registry.view_accident", "registry.view_emergencyresource", "registry.view_variety", "registry.view_inspectionrule",
    "geo.view_region",
    "cylinders.view_cylinder", "cylinders.view_fillingrecord", "cylinders.view_violation",
    "licensing.view_licence",
]  # fmt: skip
VIEW_PERSONAL = ["registry.view_person", "registry.view_certificate"]
# The admin's model permissions each action opens.
ACTION_PERMISSIONS: dict[Action, list[str]] = {
    Action.REGISTER: [
        "registry.add_equipment", "registry.add_unit", "registry.add_person", "registry.add_certificate",
        "cylinders.add_cylinder",
    ],
    Action.CHANGE: [
        "registry.change_equipment", "registry.change_unit", "registry.change_person",
        "registry.change_certificate",
    ],
    Action.RECORD_INSPECTION: ["registry.add_inspection"],
    # A licence entered by hand (a paper one, a station's filling licence): issue_licence.
    Action.DECIDE_LICENCE: ["licensing.add_licence"],
    # The stations' machine keys (their dates, never the digest), issued on the station's key page.
    Action.MANAGE_STATION_KEYS: ["cylinders.view_stationtoken"],
    Action.RECORD_ACCIDENT: ["registry.add_accident", "registry.change_accident"],
    Action.MANAGE_RESOURCES: ["registry.add_emergencyresource", "registry.change_emergencyresource"],
    Action.ADMINISTER: [
        "accounts.add_agency", "accounts.change_agency", "accounts.add_user", "accounts.change_user",
    ],
}  # fmt: skip
# Supervisors read the audit trail of their jurisdiction.
READS_AUDIT = frozenset({Role.SUPERVISOR})


def permissions_of(role: Role) -> list[str]:
    """The admin permissions of a role: reading the registry (and its people, where the role may
    read personal data), and what each of its actions opens."""
    codenames = list(VIEW_REGISTRY) if role != Role.ENTERPRISE else []
    if role in PERSONAL_DATA_ROLES and codenames:
        codenames += VIEW_PERSONAL
    for action in sorted(RIGHTS[role]):
        codenames += ACTION_PERMISSIONS.get(action, [])
    if role in READS_AUDIT:
        codenames.append("accounts.view_auditentry")
    return codenames


# System administrators are superusers: their group holds the same, for the record.
ROLE_PERMISSIONS: dict[str, list[str]] = {role: permissions_of(role) for role in Role}


def group_name(role: str) -> str:
    return f"role:{role}"


def sync_role_groups(**kwargs) -> None:
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name(role))
        wanted = [tuple(name.split(".", 1)) for name in codenames]
        permissions = [
            p
            for p in Permission.objects.filter(codename__in=[c for _, c in wanted]).select_related(
                "content_type"
            )
            if (p.content_type.app_label, p.codename) in wanted
        ]
        group.permissions.set(permissions)


def assign_role_group(user) -> None:
    """A user is in exactly the group of their role."""
    role_groups = Group.objects.filter(name__startswith="role:")
    user.groups.remove(*role_groups.exclude(name=group_name(user.role)))
    group = role_groups.filter(name=group_name(user.role)).first()
    if group is not None:
        user.groups.add(group)
