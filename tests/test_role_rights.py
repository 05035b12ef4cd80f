"""Every write endpoint of the URL conf × every role: refused (403, nothing written) exactly where
accounts/policy.py withholds the action, let through where it grants it.

The endpoints and the requests come from the leak walk (tests/test_jurisdiction_leaks.py and
tests/leaks/writes.py): each write is made on the county's own records, as a user of each role in
that county. The action a write needs is what the view declares (`policy.declared_action`): a
write that declares none fails here. The admin's forms need the model permissions the policy's
actions open (accounts/roles.py); a form no action opens is the superuser's alone.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import resolve

from accounts import policy
from accounts.models import AuditEntry, Role, User
from accounts.roles import ACTION_PERMISSIONS
from tests.leaks import writes
from tests.test_jurisdiction_leaks import (  # noqa: F401  (the world fixtures)
    ENDPOINTS,
    PK,
    World,
    WriteCase,
    _admin_body,
    _changes,
    _module_world,
    _prepare,
    _send,
    _snapshot,
    _url,
    world,
)

ROLES = list(Role)
# The admin's writing views this test makes, by what they need of the model.
ADMIN_VERBS = {"add_view": "add", "change_view": "change", "delete_view": "delete"}
ACTION_OF_PERMISSION = {perm: a for a, perms in ACTION_PERMISSIONS.items() for perm in perms}


def _callback(path: str):
    return resolve(path.split("?")[0].replace(PK, "1")).func


def _writes():
    """(endpoint, method, view) of every write the walk knows, once per route and method."""
    seen = set()
    for endpoint in ENDPOINTS:
        if "?" in endpoint.path or not endpoint.writes:
            continue
        if endpoint.view in (*writes.ALLOWED, *writes.READS, *writes.PUBLIC):
            continue
        for method, view in endpoint.writes:
            if (endpoint.route, method) in seen:
                continue
            seen.add((endpoint.route, method))
            if endpoint.kind == "admin":
                verb = ADMIN_VERBS.get(view.rsplit(".", 1)[-1])
                if verb is None or method != "post":
                    continue  # list actions and password forms: see test_admin_actions_below
            yield endpoint, method, view


def _needs(endpoint, method: str, view: str) -> policy.Action | None | str:
    """The action the write needs; for an admin form no action opens, "superuser"."""
    if endpoint.kind == "admin":
        verb = ADMIN_VERBS[view.rsplit(".", 1)[-1]]
        app, model = endpoint.model.split(".")
        return ACTION_OF_PERMISSION.get(f"{app}.{verb}_{model}", "superuser")
    return policy.declared_action(_callback(endpoint.path), method)


WRITES = list(_writes())
CASES = [
    pytest.param(endpoint, method, view, role, id=f"{role} {method.upper()} {endpoint.path}")
    for endpoint, method, view in WRITES
    for role in ROLES
]


def test_every_write_declares_its_action():
    undeclared = [
        f"{method.upper()} {e.route} ({view})"
        for e, method, view in WRITES
        if _needs(e, method, view) is None
    ]
    assert not undeclared, (
        "writes that declare no action: give the view `policy.Allows(...)` (DRF) or "
        "`@policy.writes(...)` (a function view):\n" + "\n".join(undeclared)
    )
    assert len(WRITES) >= 30 and len(CASES) == len(WRITES) * len(ROLES)


def test_the_policy_is_what_the_issue_asks():
    """The read-only roles write nothing of the registry; every action has a role."""
    for role in (Role.ANALYST, Role.INSPECTOR, Role.RESPONDER):
        assert policy.Action.REGISTER not in policy.RIGHTS[role]
    for role in (Role.ANALYST, Role.RESPONDER):
        assert policy.Action.RECORD_INSPECTION not in policy.RIGHTS[role]
    assert policy.RIGHTS[Role.ANALYST] == {policy.Action.EXPORT}
    assert set().union(*policy.RIGHTS.values()) == set(policy.Action)


def _user(world: World, role: Role) -> User:  # noqa: F811
    """A user of the role in my county (the county supervisor of the walk for the supervisor, the
    walk's team inspector for the inspector: the owners of the records the recipes write)."""
    if role == Role.SUPERVISOR:
        return world.users["xingqing"]
    if role == Role.INSPECTOR:
        user = world.mine.objects["patrol.inspector"]
    else:
        user = User.objects.create_user(
            f"rights-{role}",
            password="pw-for-tests",
            agency=world.users["xingqing"].agency,
            role=role,
            is_superuser=role == Role.SYSTEM_ADMIN,
        )
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def _allowed(user: User, needs) -> bool | None:
    """Whether the policy lets the user write; None: not the policy's to say (an admin form no
    action opens is refused to every role, and read-only for the superuser too where its admin
    says so)."""
    if needs == "superuser":
        return None if user.is_superuser else False
    return policy.may(user, needs)


@pytest.mark.parametrize("endpoint, method, view, role", CASES)
def test_a_write_is_allowed_exactly_where_the_policy_says(endpoint, method, view, role, world):  # noqa: F811
    user = _user(world, role)
    client = Client()
    client.force_login(user)
    needs = _needs(endpoint, method, view)
    mine = world.mine.objects.get(endpoint.model) or world.shared.get(endpoint.model)
    url = _url(endpoint, str(mine.pk)) if endpoint.detail else endpoint.path
    case = WriteCase(endpoint, method, view, "object")
    if endpoint.kind == "admin":
        body, encoding = _admin_body(case, world, client, mine, {}), "form"
    else:
        recipe = writes.RECIPES[(view, method)]
        _prepare(case, world)
        body, encoding = recipe.body(world.mine), recipe.encoding
    before = _snapshot(world)
    last_audit = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    page = _send(client, method, url, body, encoding)
    allowed = _allowed(user, needs)
    assert page.status < 500, f"{method.upper()} {url} answered {page.status}"
    if allowed:
        assert page.status != 403, (
            f"{role} may {needs}: {method.upper()} {url} answered {page.status}: {page.body[:300]}"
        )
    elif allowed is False:
        assert page.status == 403, (
            f"{role} may not {needs}: {method.upper()} {url} answered {page.status}: "
            f"{page.body[:300]}"
        )
        # Nothing is written but the refusal's own audit row.
        changes = _changes(before, _snapshot(world), may_grow=("accounts.auditentry",))
        assert not changes, "a refused write changed the database:\n" + "\n".join(changes)
        added = set(AuditEntry.objects.filter(pk__gt=last_audit).values_list("action", flat=True))
        assert added == {"access.denied"}, added


def test_admin_actions_below_need_the_change_permission():
    """List actions (the admin's other writes) are offered only where the admin grants a write:
    every registered admin's actions are none, or the model's change/delete permission guards
    them (Django's own rule), so the forms' cases above cover the roles."""
    for model, model_admin in admin.site._registry.items():
        for func, name, _ in model_admin._get_base_actions():
            allowed = getattr(func, "allowed_permissions", None)
            if name == "delete_selected":
                continue  # needs the delete permission, by Django
            assert allowed, f"{model._meta.label}: action {name} declares no permission"
