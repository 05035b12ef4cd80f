"""The write half of the leak walk: which views write, how a county user writes to each, and
the views that write nothing another county owns (the allow-lists).

A view writes if it accepts POST, PUT, PATCH or DELETE: a DRF viewset by its actions, a class-based
view (DRF or Django) by the handlers it defines among its `http_method_names`, a function view by
its `require_http_methods` family decorator; a function view without one accepts every method,
so it writes until shown otherwise. Each write is then either a case of tests/test_jurisdiction_
leaks.py (a recipe here, or one of the admin's own views), or in ALLOWED or READS with its reason.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser
from typing import Any

from django.contrib.gis.geos import Point

from registry.synthetic.codes import credit_code, device_code
from tests.conftest import XINGQING, inside

WRITE_METHODS = ("post", "put", "patch", "delete")

# --------------------------------------------------------------------------- which views write


def accepted_methods(callback) -> frozenset[str] | None:
    """The methods a view answers (None: every method, it checks none)."""
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset route: method → action
        return frozenset(actions)
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is not None:  # DRF APIView or Django View: the handlers it defines
        return frozenset(m for m in cls.http_method_names if hasattr(cls, m))
    view, seen = callback, set()
    while view is not None and id(view) not in seen:  # through login_required and the like
        seen.add(id(view))
        cells = dict(zip(view.__code__.co_freevars, view.__closure__ or (), strict=True))
        if "request_method_list" in cells:  # django.views.decorators.http.require_http_methods
            return frozenset(m.lower() for m in cells["request_method_list"].cell_contents)
        view = getattr(view, "__wrapped__", None)
    return None


def writes(callback) -> tuple[tuple[str, str], ...]:
    """(method, view) for each write method the view accepts; a viewset's view is its action."""
    methods = accepted_methods(callback)
    key = view_key(callback)
    actions = getattr(callback, "actions", None) or {}
    return tuple(
        (m, f"{key}.{actions[m]}" if m in actions else key)
        for m in WRITE_METHODS
        if methods is None or m in methods
    )


def view_key(callback) -> str:
    """The dotted name of the code that answers: the view class, or the innermost function (an
    admin view is its ModelAdmin or AdminSite method, named after the class defining it)."""
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is not None:
        return f"{cls.__module__}.{cls.__qualname__}"
    view = callback
    while getattr(view, "__wrapped__", None) is not None:
        view = view.__wrapped__
    return f"{view.__module__}.{view.__qualname__}"


ADMIN = "django.contrib.admin"
# Writes that act on the requester alone: no record of any county is named.
ALLOWED: dict[str, str] = {
    "django.contrib.auth.views.LoginView": "logs the requester in",
    "django.contrib.auth.views.LogoutView": "ends the requester's own session",
    f"{ADMIN}.sites.AdminSite.login": "logs the requester in (the admin's form)",
    f"{ADMIN}.sites.AdminSite.logout": "ends the requester's own session (the admin's button)",
    f"{ADMIN}.sites.AdminSite.password_change": "changes the requester's own password",
    "accounts.token_views.api_token": "makes or revokes the requester's own API token",
    "accounts.views.PasswordChange": "changes the requester's own password",
    "accounts.views.otp_setup": "enrols the requester's own authenticator",
    "accounts.views.otp_verify": "verifies the requester's own one-time code",
    "django.views.i18n.set_language": "sets the requester's language cookie",
    # favicon.ico, and the admin's /<pk>/ that forwards to /<pk>/change/ (a case of its own).
    "django.views.generic.base.RedirectView": "a redirect whatever the method; writes nothing",
}
# Writes open to everyone on purpose (the public space, docs/public.md), with the reason: no user,
# no jurisdiction, so neither this walk nor the role-rights walk applies; tests/public covers them.
PUBLIC: dict[str, str] = {
    "public.views.report": "a member of the public reports a problem at the device its QR label "
    "names: an incident on that device's county desk, whoever sends it",
}
# Views that check no method and only read: a POST is answered as a GET, or 405. Kept honest by
# test_method_blind_reads_write_nothing, which posts to each as the walk fills it.
READS: dict[str, str] = {
    "maps.views.home": "the dashboard",
    "maps.views.map_page": "the map page",
    "maps.views.basemap": "the offline basemap of the jurisdiction",
    "response.pages.console": "the response console page",
    "patrol.pages.plans_page": "the patrol plans page",
    "geo.admin.RegionAdmin.basemap_view": "the admin maps' basemap",
    f"{ADMIN}.sites.AdminSite.index": "the admin index",
    f"{ADMIN}.sites.AdminSite.app_index": "an app's admin index",
    f"{ADMIN}.sites.AdminSite.autocomplete_view": "admin autocompletes (GET only: 405)",
    f"{ADMIN}.sites.AdminSite.i18n_javascript": "the admin's translations (GET only: 405)",
    f"{ADMIN}.sites.AdminSite.password_change_done": "a confirmation page",
    f"{ADMIN}.sites.AdminSite.catch_all_view": "the admin's 404 / slash redirect",
    f"{ADMIN}.options.ModelAdmin.history_view": "a record's change history",
    "django.contrib.contenttypes.views.shortcut": "view on site: a redirect to the record's page",
}

# The admin's own writing views, by method name: how the walk writes through each.
ADMIN_WRITES = {
    "add_view": "reference",  # a new record naming their records, one field at a time
    "change_view": "object",  # their record's form posted (and my record naming theirs)
    "delete_view": "object",  # their record's delete confirmed
    "changelist_view": "action",  # every list action on their record
    "user_change_password": "object",  # their user's password set
}


# --------------------------------------------------------------------------- recipes


def point(side) -> Point:
    """A point in the side's county."""
    return _point(side.code)


@cache
def _point(code: str) -> Point:
    return inside(code)


def pk(side, label: str) -> int:
    return side.objects[label].pk


def _yesterday() -> str:
    return (dt.date.today() - dt.timedelta(days=1)).isoformat()


@dataclass(frozen=True)
class Recipe:
    """How to write to one view: `body(side)` is plausible for the side's records; each entry of
    `refs` overrides the fields that name one record (None drops a field), and becomes a case with
    their record named in my body."""

    body: Callable[[Any], dict]
    refs: dict[str, Callable[[Any], dict]] = field(default_factory=dict)
    encoding: str = "json"  # or "form" (multipart, as a browser posts a form)
    # Bring the side's records to a state in which the write succeeds on them (both sides), for
    # the case's reference (None: their record in the URL).
    prepare: Callable[[Any, str | None], None] | None = None
    # The write is accepted even naming theirs: the rows it may add (the requester's own).
    creates: tuple[str, ...] = ()
    # References to a place (a point, a division code): public facts, with no missing twin to
    # compare the answer with. The others name records: theirs must answer like a missing one.
    places: tuple[str, ...] = ()
    # A national or provincial rule table (the evaluation scheme): the county user's write naming
    # their own place is refused too; who may make it is tests/test_role_rights.py's and the app's.
    above_county: bool = False


def _unit_free(side, ref: str | None) -> None:
    """Decline the side's open ask of its unit, so it may be asked again (the decline moves the
    ask on to the rescue team: the other cases name that, and are left as they are)."""
    from response.dispatch import answer_dispatch

    if ref != "unit":
        return
    dispatch = side.objects["response.dispatch"]
    if type(dispatch).objects.pending().filter(pk=dispatch.pk).exists():
        answer_dispatch(dispatch.pk, "declined", acting_user=side.objects["accounts.user"])


def _close_incident(side, ref: str | None) -> None:
    from response import services
    from response.models import Incident

    user = side.objects["accounts.user"]
    incident = side.objects["response.incident"]
    for state in ("responded", "arrived", "closed"):
        if state in Incident.objects.get(pk=incident.pk).allowed_states:
            services.change_incident_state(incident.pk, state, acting_user=user)


def _application_at(side, state: str) -> None:
    """Put the side's licence application in the state the step starts from."""
    from licensing.models import Application

    Application.objects.filter(pk=pk(side, "licensing.application")).update(state=state)


def _dry_run(side, ref: str | None) -> None:
    """Dry-run the side's import job, here and now as the worker would: the commit may start."""
    from registry.importers import jobs

    job = side.objects["registry.importjob"]
    jobs.request_run(job, commit=False, acting_user=job.requester)
    done = jobs.run_import_job(job.pk, commit=False)
    assert jobs.commit_refusal(done) is None, jobs.commit_refusal(done)


def _ledger(side) -> io.BytesIO:
    """A one-row equipment ledger placed in the side's county, using its unit."""
    from tests.registry.importers.equipment_rows import csv_file, device_row

    unit = side.objects["registry.unit"]
    row = device_row(901, side.code, **{"使用单位名称": unit.name})
    row["使用单位统一社会信用代码"] = unit.credit_code
    return csv_file([row], name="台账.csv")


def _teams(side) -> dict:
    return {"count": 1, "members": [[pk(side, "patrol.inspector")]]}


_PERIOD = {"from": dt.date.today().isoformat(),
           "to": (dt.date.today() + dt.timedelta(days=30)).isoformat()}  # fmt: skip
_REGISTRATION = {"variety_code": "3110", "commissioned_on": "2024-03-01",
                 "device_code": device_code("3110", "W7777", 2024, 1)}  # fmt: skip
_EXPORT = {"layer": "equipment", "format": "csv", "crs": "wgs84"}
# 绩效评价: a scheme a national or provincial administrator sets (weights sum to 100).
_SCHEME = [
    {
        "indicator": "inspection_rate",
        "weight": 60,
        "target": 95,
        "floor": 60,
        "direction": "higher",
    },
    {
        "indicator": "deaths_per_10k",
        "weight": 40,
        "target": 0.05,
        "floor": 0.3,
        "direction": "lower",
    },
]
_SCHEME_FORM = {
    f"{c['indicator']}-{k}": str(c[k])
    for c in _SCHEME
    for k in ("weight", "target", "floor", "direction")
}

# (view, method) → recipe. The view names are view_key's.
RECIPES: dict[tuple[str, str], Recipe] = {
    ("analysis.evaluation_api.Scheme", "put"): Recipe(
        body=lambda s: {"year": dt.date.today().year, "components": _SCHEME},
        refs={"region": lambda s: {"region": s.code}},
        places=("region",),
        above_county=True,
    ),
    ("analysis.evaluation_api.Publish", "post"): Recipe(
        body=lambda s: {"year": dt.date.today().year - 1},
        refs={"region": lambda s: {"region": s.code}},
        places=("region",),
        above_county=True,
    ),
    ("analysis.evaluation_views.scheme_page", "post"): Recipe(
        body=lambda s: {"year": str(dt.date.today().year), **_SCHEME_FORM},
        refs={"region": lambda s: {"region": s.code}},
        encoding="form",
        places=("region",),
        above_county=True,
    ),
    ("licensing.pages.new_application", "post"): Recipe(
        # A kind the side has no open application of (its world application is installation).
        body=lambda s: {
            "kind": "design",
            "scope": "2000:D",
            "unit": s.objects["registry.unit"].credit_code,
        },  # fmt: skip
        refs={"unit": lambda s: {"unit": s.objects["registry.unit"].credit_code}},
        encoding="form",
    ),
    ("licensing.pages.AmendApplication", "post"): Recipe(
        body=lambda s: {"scope": "3000:B", "note": "补正"},
        encoding="form",
        prepare=lambda side, ref: _application_at(side, "changes_requested"),
    ),
    ("licensing.pages.DecideApplication", "post"): Recipe(
        body=lambda s: {"verb": "accept"},
        encoding="form",
        prepare=lambda side, ref: _application_at(side, "submitted"),
    ),
    # The side's finding: its unit modified its device with no installation licence (the world).
    ("licensing.pages.act_on_finding", "post"): Recipe(
        body=lambda s: {
            "equipment": pk(s, "registry.equipment"),
            "unit": pk(s, "registry.unit"),
            "kind": "installation",
            "action": "责令停止安装，立案查处",
        },  # fmt: skip
        refs={
            "equipment": lambda s: {"equipment": pk(s, "registry.equipment")},
            "unit": lambda s: {"unit": pk(s, "registry.unit")},
        },
        encoding="form",
    ),
    ("licensing.pages.LicenceStatusView", "post"): Recipe(
        body=lambda s: {"status": "suspended", "reasons": "监督检查发现问题"},
        encoding="form",
    ),
    ("cylinders.api.FillingBatch", "post"): Recipe(
        body=lambda s: {
            "station": pk(s, "registry.unit"),
            "fillings": [
                {
                    "tag": s.objects["cylinders.cylinder"].tag,
                    "filled_at": f"{_yesterday()}T09:00:00+08:00",
                    "medium": "液化石油气",
                    "quantity_kg": "14.5",
                    "check_result": "pass",
                    "operator_certificate": "LEAKW0001",
                }
            ],
        },  # fmt: skip
        refs={"station": lambda s: {"station": pk(s, "registry.unit")}},
    ),
    ("inspections.api.FeedBatchView", "post"): Recipe(
        body=lambda s: {
            "body": pk(s, "registry.unit"),
            "records": [
                {
                    "report_number": f"LEAKW{s.code}",
                    "kind": "periodic",
                    "device_code": s.objects["registry.equipment"].device_code,
                    "inspected_on": _yesterday(),
                    "conclusion": "pass",
                }
            ],
        },
        refs={"body": lambda s: {"body": pk(s, "registry.unit")}},
    ),
    # The station in the URL: theirs answers 404 and issues nothing (the key page, issue 21).
    ("cylinders.pages.StationKeys", "post"): Recipe(
        body=lambda s: {"action": "issue"}, encoding="form"
    ),
    ("registry.api.EquipmentViewSet.create", "post"): Recipe(
        body=lambda s: {
            **_REGISTRATION,
            "use_unit": pk(s, "registry.unit"),
            "maintenance_unit": pk(s, "registry.unit"),
            "longitude": point(s).x,
            "latitude": point(s).y,
        },
        refs={
            "use_unit": lambda s: {"use_unit": pk(s, "registry.unit")},
            "maintenance_unit": lambda s: {"maintenance_unit": pk(s, "registry.unit")},
            "location": lambda s: {"longitude": point(s).x, "latitude": point(s).y},
        },
        places=("location",),
    ),
    ("registry.api.EquipmentViewSet.inspections", "post"): Recipe(
        body=lambda s: {"conclusion": "pass", "inspected_on": _yesterday(), "defects": 0},
    ),
    ("registry.importers.views.ImportJobList", "post"): Recipe(
        body=lambda s: {"file": _ledger(s), "dataset": "equipment", "source": "泄露检测"},
        refs={"ledger rows": lambda s: {"file": _ledger(s)}},
        encoding="form",
        # The upload only stores the file as the requester's job; rows are checked by the dry run
        # and the commit (tests/registry/importers), whose requests are cases below.
        creates=("registry.importjob", "accounts.auditentry"),
    ),
    ("registry.importers.pages.imports_page", "post"): Recipe(
        body=lambda s: {"file": _ledger(s), "dataset": "equipment", "source": "泄露检测"},
        refs={"ledger rows": lambda s: {"file": _ledger(s)}},
        encoding="form",
        creates=("registry.importjob", "accounts.auditentry"),
    ),
    ("registry.importers.views.ImportJobMapping", "post"): Recipe(
        body=lambda s: {"mapping": s.objects["registry.importjob"].mapping, "source_crs": "wgs84"},
    ),
    ("registry.importers.views.ImportJobValidate", "post"): Recipe(body=lambda s: {}),
    ("registry.importers.views.ImportJobCommit", "post"): Recipe(
        body=lambda s: {}, prepare=_dry_run
    ),
    ("exports.views.export_page", "post"): Recipe(
        body=lambda s: {**_EXPORT, "region": s.code},
        refs={"region": lambda s: {"region": s.code}},
        encoding="form",
        places=("region",),
    ),
    ("exports.views.estimate", "post"): Recipe(
        body=lambda s: {**_EXPORT, "region": s.code},
        refs={"region": lambda s: {"region": s.code}},
        encoding="form",
        places=("region",),
    ),
    ("response.incident_api.Incidents", "post"): Recipe(
        body=lambda s: {
            "point": f"{point(s).x},{point(s).y}",
            "equipment": str(pk(s, "registry.equipment")),
            "unit": str(pk(s, "registry.unit")),
            "summary": "泄露检测报警",
        },
        refs={
            "point": lambda s: {"point": f"{point(s).x},{point(s).y}"},
            "equipment": lambda s: {"equipment": str(pk(s, "registry.equipment"))},
            "unit": lambda s: {"unit": str(pk(s, "registry.unit"))},
        },
        places=("point",),
    ),
    ("response.incident_api.IncidentTransition", "post"): Recipe(
        body=lambda s: {"state": "responded", "note": "泄露检测"},
    ),
    ("response.incident_api.IncidentEvents", "post"): Recipe(
        body=lambda s: {"note": "泄露检测备注"},
    ),
    ("response.incident_api.IncidentDispatch", "post"): Recipe(
        body=lambda s: {"resource": pk(s, "registry.emergencyresource"), "note": "泄露检测"},
        refs={
            "resource": lambda s: {"resource": pk(s, "registry.emergencyresource")},
            "unit": lambda s: {"unit": pk(s, "registry.unit"), "resource": None},
        },
        prepare=_unit_free,
    ),
    ("response.incident_api.IncidentGrants", "post"): Recipe(
        body=lambda s: {"grantee": "640106", "hours": 2, "reason": "泄露检测授权"},
    ),
    ("response.incident_api.GrantRevoke", "post"): Recipe(body=lambda s: {}),
    ("response.incident_api.IncidentAccident", "post"): Recipe(
        body=lambda s: {"kind": "困人", "flagged": True}, prepare=_close_incident
    ),
    ("response.incident_api.DispatchAnswerView", "post"): Recipe(
        body=lambda s: {"answer": "responded", "note": "泄露检测"},
    ),
    ("response.incident_api.DispatchCancel", "post"): Recipe(
        body=lambda s: {"reason": "泄露检测撤销"},
    ),
    ("patrol.api.Plans", "post"): Recipe(
        body=lambda s: {
            "area": {"region": s.code},
            "period": _PERIOD,
            "routing": {"teams": _teams(s), "days": 1},
        },
        refs={
            "area": lambda s: {"area": {"region": s.code}},
            "team members": lambda s: {"routing": {"teams": _teams(s), "days": 1}},
        },
        places=("area",),
    ),
    ("patrol.api.CandidateDetail", "patch"): Recipe(body=lambda s: {"pinned": True}),
    ("patrol.api.PlanRoutes", "post"): Recipe(
        body=lambda s: {"teams": _teams(s), "days": 1},
        refs={"team members": lambda s: {"teams": _teams(s)}},
    ),
    ("patrol.api.PlanReoptimise", "post"): Recipe(body=lambda s: {}),
    ("patrol.api.StopMove", "post"): Recipe(
        body=lambda s: {"route": pk(s, "patrol.patrolroute"), "position": 1},
        refs={"route": lambda s: {"route": pk(s, "patrol.patrolroute")}},
    ),
    ("patrol.api.StopResult", "post"): Recipe(
        body=lambda s: {"visited": True, "findings": "泄露检测发现", "other_day": True},
    ),
}


# --------------------------------------------------------------------------- the admin's forms

# The add forms' own fields (their references come from the world, see ADMIN_REFS).
ADMIN_ADD: dict[str, Callable[[], dict]] = {
    "registry.accident": lambda: {
        "occurred_at_0": _yesterday(),
        "occurred_at_1": "10:00:00",
        "kind": "泄露检测事故",
        "severity": "ordinary",
        "cause_class": "other",
        "deaths": "0",
        "injuries": "0",
        "direct_loss": "0",
    },  # fmt: skip
    "registry.certificate": lambda: {
        "kind": "特种设备作业人员证",
        "number": "LEAKW0001",
        "issued_on": "2024-01-01",
        "expires_on": "2028-01-01",
    },  # fmt: skip
    "registry.emergencyresource": lambda: {
        "name": "泄露检测救援队",
        "resource_type": "rescue_team",
        "duty_hours": "24小时",
    },  # fmt: skip
    "registry.equipment": lambda: {
        "variety": "3110",
        "device_code": device_code("3110", "W7777", 2024, 2),
        "commissioned_on": "2024-01-01",
        "params": "{}",
    },  # fmt: skip
    "registry.inspection": lambda: {
        "kind": "periodic",
        "inspected_on": _yesterday(),
        "conclusion": "pass",
        "defects": "0",
        "report_number": "LEAKW-R1",
    },  # fmt: skip
    "registry.person": lambda: {"name": "泄露检测人员", "role": "inspector"},
    "cylinders.cylinder": lambda: {
        "tag": "LEAKW-TAG1",
        "kind": "lpg",
        "maker_name": "泄露检测气瓶厂",
        "serial_number": "LEAKW-S1",
        "made_on": "2024-01-01",
        "design_life_years": "8",
        "volume_l": "35.5",
        "working_pressure_mpa": "2.1",
    },  # fmt: skip
    "licensing.licence": lambda: {
        "number": "TS4999001-2031",
        "kind": "filling",
        "authority": "泄露检测发证机关",
        "issued_on": "2027-01-01",
        "expires_on": "2031-01-01",
        "scope_items": "2300:",
    },  # fmt: skip
    "registry.unit": lambda: {
        "name": "泄露检测新单位",
        "credit_code": credit_code(XINGQING, 9_100_001),
        "roles": "use",
    },  # fmt: skip
    # Forms only a granted permission opens (the walk grants it, see _granted).
    "accounts.agency": lambda: {"name": "泄露检测机构", "level": "county"},
    "accounts.user": lambda: {
        "username": "leakwalk",
        "password1": "Leak-walk-2026!",
        "password2": "Leak-walk-2026!",
        "usable_password": "true",
        "role": "supervisor",
    },  # fmt: skip
}
# Per admin form (add, change), the fields naming a county's record or place: each is a case with
# theirs in it. Their values are the side's record of the field's model, or a point in its county.
ADMIN_REFS: dict[str, dict[str, tuple[str, ...]]] = {
    "registry.accident": {
        "add": ("location", "equipment", "unit"),
        "change": ("equipment", "unit"),
    },
    "registry.certificate": {"add": ("person",), "change": ("person",)},
    "registry.emergencyresource": {"add": ("location", "unit"), "change": ("unit",)},
    "registry.equipment": {
        "add": ("location", "use_unit", "maintenance_unit", "manufacturer", "installer"),
        "change": ("location", "maintenance_unit"),
    },
    "registry.inspection": {"add": ("equipment", "body", "inspector")},
    "registry.person": {"add": ("employer", "region"), "change": ("employer", "region")},
    "registry.unit": {"add": ("location", "region")},
    "cylinders.cylinder": {"add": ("owner",)},
    "licensing.licence": {"add": ("unit",)},
    "accounts.agency": {"add": ("region",), "change": ("region",)},
    "accounts.user": {"add": ("agency",), "change": ("agency",)},
}
# Reference fields of those forms left out, and why.
ADMIN_UNSET: dict[tuple[str, str], str] = {
    ("registry.equipment", "route"): "a pipeline's route; the lift the walk registers has none",
    ("accounts.agency", "office"): "a point, optional; the agency the walk adds has none yet",
}
ADMIN_PASSWORD = {"password1": "Leak-walk-2026!", "password2": "Leak-walk-2026!",
                  "usable_password": "true"}  # fmt: skip


class _FormReader(HTMLParser):
    """The fields a browser would submit from the form with the given id."""

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.fields = form_id, False, []
        self._select: tuple[str, bool] | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside or "disabled" in a:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "image", "file", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((name, a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select" and name:
            self._select, self._options = (name, "multiple" in a), []
        elif tag == "option" and self._select:
            self._options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            name, multiple = self._select
            chosen = [v for v, selected in self._options if selected]
            if not chosen and not multiple and self._options:
                chosen = [self._options[0][0]]
            self.fields += [(name, v) for v in chosen]
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, "".join(self._text).lstrip("\n")))
            self._textarea = None


def form_fields(html: str, form_id: str) -> dict[str, Any]:
    """The form as a browser submits it: one value per name, or a list for repeated names."""
    reader = _FormReader(form_id)
    reader.feed(html)
    data: dict[str, Any] = {}
    for name, value in reader.fields:
        if name == "csrfmiddlewaretoken":
            continue
        if name in data:
            data[name] = [*(data[name] if isinstance(data[name], list) else [data[name]]), value]
        else:
            data[name] = value
    return data


def admin_reference_value(form_field, side) -> str | None:
    """The value naming the side's record (or place) in an admin form field; None if the field
    names nothing of a county."""
    from django import forms
    from django.contrib.gis.forms import GeometryField

    if isinstance(form_field, GeometryField):
        return point(side).transform(3857, clone=True).json  # the admin map draws in 3857
    if isinstance(form_field, forms.ModelChoiceField) and not isinstance(
        form_field, forms.ModelMultipleChoiceField
    ):
        label = form_field.queryset.model._meta.label_lower
        record = side.objects.get(label)
        return None if record is None else str(record.pk)
    return None


def json_body(body: dict) -> str:
    return json.dumps({k: v for k, v in body.items() if v is not None}, ensure_ascii=False)
