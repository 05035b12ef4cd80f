"""What each role may do, as Django permission groups kept in line with this table after every migrate."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

from .models import Role

VIEW_REGISTRY = [
    "registry.view_equipment", "registry.view_unit", "registry.view_inspection", "registry.view_lifecycleevent",
    "registry.view_accident", "registry.view_emergencyresource", "registry.view_variety", "registry.view_inspectionrule",
    "geo.view_region",
]  # fmt: skip
VIEW_PERSONAL = ["registry.view_person", "registry.view_certificate"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.SUPERVISOR: VIEW_REGISTRY + VIEW_PERSONAL + [
        "registry.add_equipment", "registry.change_equipment", "registry.add_unit", "registry.change_unit",
        "registry.add_inspection", "registry.add_accident", "registry.change_accident", "registry.add_emergencyresource",
        "registry.change_emergencyresource", "registry.add_person", "registry.change_person", "registry.add_certificate",
        "registry.change_certificate", "accounts.view_auditentry",
    ],
    Role.INSPECTOR: VIEW_REGISTRY + ["registry.add_inspection"],
    Role.RESPONDER: VIEW_REGISTRY + VIEW_PERSONAL + ["registry.add_accident"],
    Role.ANALYST: VIEW_REGISTRY,
    Role.ENTERPRISE: [],
    Role.SYSTEM_ADMIN: [],  # system administrators are superusers
}  # fmt: skip


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
