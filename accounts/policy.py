"""What each role may do: the one table of rights, checked on every write path.

Jurisdiction says *where* a user may act (geo.scoping); this module says *what* they may do there.
Every write — the API, the admin, the pages, an import's commit, the patrol and response desks —
asks `may(user, action)` or calls `require(user, action)`; the Django permission groups the admin
reads are derived from this table (accounts/roles.py), and tests/test_role_rights.py walks every
write endpoint of the URL conf as every role and expects exactly this table.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied

from .models import Role


class Action(StrEnum):
    REGISTER = "register"  # new equipment, units, people and certificates
    CHANGE = "change"  # change a registered record, its status and its life cycle
    RECORD_INSPECTION = "record_inspection"  # an inspection's result (moves the next due date)
    RECORD_ACCIDENT = "record_accident"  # an accident, or an incident converted into one
    RECORD_FILLING = "record_filling"  # gas-cylinder fillings entered for a station (cylinders/)
    MANAGE_STATION_KEYS = "manage_station_keys"  # issue and revoke a filling station's machine key
    MANAGE_RESOURCES = "manage_resources"  # emergency resources: rescue teams, depots
    IMPORT = "import"  # upload, check and commit a file of records
    EXPORT = "export"  # a layer to a file for desktop GIS or Excel
    RESPOND = "respond"  # take a 96333 call: incidents, dispatch, grants
    PLAN = "plan"  # patrol plans and their routes
    RECORD_VISIT = "record_visit"  # the result of a patrol stop, by the team that made it
    ADMINISTER = "administer"  # agencies, users and their roles
    EVALUATION_SCHEME = "evaluation_scheme"  # 绩效评价 scheme: weights, targets; publish a year
    APPLY_LICENCE = "apply_licence"  # file or amend a licence application (licensing/)
    DECIDE_LICENCE = "decide_licence"  # review, approve or refuse applications; licences' status


RIGHTS: dict[Role, frozenset[Action]] = {
    Role.SYSTEM_ADMIN: frozenset(Action),
    Role.SUPERVISOR: frozenset(Action) - {Action.ADMINISTER, Action.EVALUATION_SCHEME},
    # Inspection bodies record what they found; they register nothing and move nothing else.
    Role.INSPECTOR: frozenset({Action.RECORD_INSPECTION, Action.RECORD_VISIT, Action.EXPORT}),
    # The emergency desk handles calls and records the accidents they turn out to be.
    Role.RESPONDER: frozenset({Action.RESPOND, Action.RECORD_ACCIDENT, Action.EXPORT}),
    # Analysts read and export; they write nothing.
    Role.ANALYST: frozenset({Action.EXPORT}),
    # A unit's own account applies for its licences (licensing/), and writes nothing else.
    Role.ENTERPRISE: frozenset({Action.APPLY_LICENCE}),
}

REFUSAL = "您的角色不能{action} / your role may not {action_en}"
LABELS: dict[Action, tuple[str, str]] = {
    Action.REGISTER: ("登记", "register records"),
    Action.CHANGE: ("修改登记信息", "change registered records"),
    Action.RECORD_INSPECTION: ("录入检验结果", "record inspections"),
    Action.RECORD_ACCIDENT: ("录入事故", "record accidents"),
    Action.RECORD_FILLING: ("录入充装记录", "record cylinder fillings"),
    Action.MANAGE_STATION_KEYS: ("管理充装站密钥", "manage filling stations' keys"),
    Action.MANAGE_RESOURCES: ("管理应急资源", "manage emergency resources"),
    Action.IMPORT: ("导入数据", "import data"),
    Action.EXPORT: ("导出数据", "export data"),
    Action.RESPOND: ("处置应急事件", "handle incidents"),
    Action.PLAN: ("制定巡查计划", "plan patrols"),
    Action.RECORD_VISIT: ("录入巡查结果", "record patrol visits"),
    Action.ADMINISTER: ("管理机构和用户", "administer agencies and users"),
    Action.EVALUATION_SCHEME: ("修改绩效评价方案", "edit the evaluation scheme"),
    Action.APPLY_LICENCE: ("申请行政许可", "apply for licences"),
    Action.DECIDE_LICENCE: ("审批行政许可", "decide licence applications"),
}


def rights(user: Any) -> frozenset[Action]:
    """What the user may do: nothing without an active account and a jurisdiction; a superuser
    (the installation's operator) everything."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return RIGHTS[Role.SYSTEM_ADMIN]
    if user.jurisdiction_prefix is None:
        return frozenset()
    return RIGHTS.get(user.role, frozenset())


def may(user: Any, action: Action) -> bool:
    return action in rights(user)


def refusal(action: Action) -> str:
    zh, en = LABELS[action]
    return REFUSAL.format(action=zh, action_en=en)


def require(user: Any, action: Action) -> None:
    """Refuse (403 on every surface) unless the user's role may do this. A system process acting
    for no user (the demo loader, an exchange pull, a management command) passes None."""
    if user is not None and not may(user, action):
        raise PermissionDenied(refusal(action))


class Allows:
    """A DRF permission for a view that writes: reads pass, each write method (or viewset action)
    needs its action. `Allows(Action.PLAN)` for every write of the view, or
    `Allows({"create": Action.REGISTER, "inspections": Action.RECORD_INSPECTION})` per action."""

    SAFE = ("GET", "HEAD", "OPTIONS")

    def __init__(self, actions: Action | dict[str, Action]):
        self.actions = actions

    def __call__(self):  # DRF instantiates each permission class: hand it this instance
        return self

    def action_for(self, method: str, view_action: str | None = None) -> Action | None:
        """The action a request of this method (to this viewset action) needs; None for a read."""
        if method.upper() in self.SAFE:
            return None
        if isinstance(self.actions, Action):
            return self.actions
        return self.actions.get(view_action or method.lower())

    def action_of(self, request, view) -> Action | None:
        return self.action_for(request.method, getattr(view, "action", None))

    def has_permission(self, request, view) -> bool:
        from rest_framework.exceptions import PermissionDenied as Refused

        action = self.action_of(request, view)
        if action is None or may(request.user, action):
            return True
        if not request.user.is_authenticated:
            return False  # DRF answers 401 to a request without credentials
        raise Refused(refusal(action))

    def has_object_permission(self, request, view, obj) -> bool:
        return True


def writes(action: Action, *, json: bool = False) -> Callable:
    """The same for a function view: its writes (any method but GET, HEAD and OPTIONS) need the
    action; refused with a 403 page, or the JSON error envelope for a view that answers JSON."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def checked(request, *args, **kwargs):
            if request.method not in Allows.SAFE and not may(request.user, action):
                if not json:
                    raise PermissionDenied(refusal(action))
                from common.http import json_errors

                return json_errors({"user": refusal(action)}, status=403, rule="role")
            return view(request, *args, **kwargs)

        checked.policy_action = action
        return checked

    return decorate


def declared_action(callback: Callable, method: str) -> Action | None:
    """The action a URL conf view declares for a write of this method: a DRF view by its `Allows`
    permission (a viewset route by its action), a function view by `writes`. None: it declares
    none (tests/test_role_rights.py fails on a write that declares none and is not allowed)."""
    cls = getattr(callback, "cls", None)
    if cls is not None:
        view_action = (getattr(callback, "actions", None) or {}).get(method.lower())
        for permission in getattr(cls, "permission_classes", ()):
            if isinstance(permission, Allows):
                return permission.action_for(method, view_action)
            # A permission that asks one action of reads and writes alike names it.
            if (action := getattr(permission, "policy_action", None)) is not None:
                return action if method.upper() not in Allows.SAFE else None
        return None
    view = callback
    while view is not None:
        if (action := getattr(view, "policy_action", None)) is not None:
            return action
        view = getattr(view, "__wrapped__", None)
    return None
