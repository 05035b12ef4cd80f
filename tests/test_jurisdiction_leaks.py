"""Every endpoint of the URL conf, walked as a county user: nothing of the neighbouring county leaks.

DESIGN.md §2 (jurisdiction scoping): "A test generated from the URL conf checks every endpoint for
cross-jurisdiction leaks." The cases are generated at collection time from
`get_resolver().url_patterns` (our pages, the admin site, the DRF router), so a new endpoint is
tested without anyone writing a test for it; a pattern whose parameters cannot be filled is
skipped only if it is in SKIP_ALLOWED, with its reason.

The world: one of everything in 西夏区 (640105, "theirs") and in 兴庆区 (640104, "mine"), each
carrying distinctive strings. The 兴庆区 county supervisor (staff, role permissions only, no
superuser) opens every endpoint:
  * nothing answers 5xx;
  * an object parameter filled with *their* object answers like a missing object (404, or 403
    when the endpoint is closed to the user anyway), after following redirects, with the same
    status, redirects and body as for an id that does not exist;
  * no response (body or headers, after undoing HTML, URL and JSON escapes) contains any of
    their distinctive strings, their national ID or phone numbers; no full national ID at all.
Admin autocompletes are asked for every `autocomplete_fields` entry, with and without search
terms naming their rows. The positive controls show the same detector finding the strings where
they belong: the city (银川市, both counties) sees theirs, the county sees its own.

The write walk (the last part) is generated from the same URL conf: every view accepting POST, PUT,
PATCH or DELETE is written to by the same county user, against their records or naming them, and
must refuse without changing the database; tests/leaks/writes.py finds the writes and holds the
recipes and the allow-list of writes that act on the requester alone.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models, transaction
from django.test import Client, override_settings
from django.urls import URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils import timezone
from rest_framework.generics import GenericAPIView
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts.models import Agency, AuditEntry, Role, User
from exports.jobs import request_export, run_export
from geo.models import Level, Region
from patrol.models import PatrolStop
from public import services as public_services
from registry import services
from registry.api_urls import router
from registry.importers import jobs as import_jobs
from registry.models import InspectionRule, UnitRole, Variety
from registry.models.exchange import ExchangeConflict, ExchangePeer
from registry.models.imports import ImportFinding
from registry.synthetic.codes import (
    certificate_number,
    credit_code,
    device_code,
    national_id,
    registration_code,
)
from response import services as response_services
from response.dispatch import dispatch_incident
from response.locate import at_equipment
from tests.conftest import SHIZUISHAN_DAWUKOU, XINGQING, XIXIA, YINCHUAN, inside
from tests.leaks import writes
from tests.registry.importers.equipment_rows import csv_file, device_row

# Patterns the walk may not fill, each with the reason. Empty today: every pattern is filled.
# A new endpoint whose parameters the walk cannot fill fails test_only_allowed_patterns_are_skipped
# until the walk is taught to fill it (`_plans`) or it is added here, consciously.
SKIP_ALLOWED: dict[str, str] = {}

# The public space (public/, docs/public.md): open to anyone on purpose, so a county user (or no
# user) sees *any* county's device there. Each route is named here with its reason; the walk still
# visits it (`_check_public`) and allows through only the public fields of their device
# (PUBLIC_NEEDLES): nothing personal, nothing else of theirs. A new route in the public space
# fails test_the_public_routes_are_named until it is added here.
PUBLIC_ROUTES: dict[str, str] = {
    "p/": "the public lookup by certificate number or 96333 code (exact, rate-limited)",
    "p/<str:token>/": "a device's public page, reached from its QR label",
    "p/<str:token>/report/": "the public's problem report form of the device the QR names",
    "p/<str:token>/report/done/": "the public's receipt page after a report",
    "p/cylinder/": "a gas cylinder's public status by the tag on it (exact, rate-limited; no personal field)",
}
# The load balancer's readiness probe (operations/, docs/backup.md): open to anyone, one word, and
# 503 while a dependency is down, by design (here the job worker, which no test runs).
PROBE_UNAVAILABLE = {"/readyz": "readiness answers 503 while a dependency is down"}
# What a device's public page shows of it on purpose (public/card.py): its certificate and 96333
# numbers, its use and maintenance units' names (organisations) and its district.
PUBLIC_NEEDLES = ("use certificate number", "96333 rescue ID", "unit name", "region name")
TOKEN = "{token}"

PUBLIC_PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(32)
# The z14 tile over inside(XIXIA): "their" objects' codes and names would show up in it.
TILE = {"z": "14", "x": "13016", "y": "6290"}
# The rows each map layer shows: a tile, count or GeoJSON answer must not list their ids either.
LAYER_MODELS = {
    "equipment": "registry.equipment",
    "overdue": "registry.equipment",
    "units": "registry.unit",
    "accidents": "registry.accident",
    "resources": "registry.emergencyresource",
    "stations": "registry.unit",
    "licences": "licensing.licence",
    "unlicensed": "registry.equipment",
    "unlicensed_filling": "registry.unit",
}
GEOJSON_ROUTE = "api/geojson/"
OGC_ITEMS_ROUTE = "ogcapi/collections/<str:layer>/items"
RESPONSE_ROUTE = "response/api/"
EXPORT = {"format": "csv", "crs": "wgs84", "region": None, "bbox": None, "polygon": None,
          "filters": {}}  # fmt: skip
OBJECT_PARAMETERS = {"pk", "object_id", "id"}
PK = "{pk}"
CT = "{ct}"
REDIRECTS = {301, 302, 303, 307, 308}
MISSING_INT_PK = "2147480000"
MISSING_CHAR_PK = "999999"
FORMAT_OVERRIDE = api_settings.URL_FORMAT_OVERRIDE


# --------------------------------------------------------------------------- the URL conf walk


@dataclass(frozen=True)
class Endpoint:
    route: str  # the URL conf's own spelling, key of SKIP_ALLOWED
    path: str  # with {pk} (and {ct}) for the object the model label names
    model: str | None  # label_lower of the model {pk} refers to
    name: str | None  # URL name
    kind: str  # "admin" (a ModelAdmin view), "api" (a DRF view) or "page"
    list_action: bool = False  # a DRF list (filters apply)
    mine_found: bool = True  # the same URL with *my* object is expected to find it
    view: str = ""  # the code answering (writes.view_key)
    writes: tuple[tuple[str, str], ...] = ()  # (method, view) of each write it accepts
    public: str = ""  # why the route is open to everyone (PUBLIC_ROUTES)

    @property
    def detail(self) -> bool:
        return PK in self.path


def _chains(patterns, chain=()):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _chains(entry.url_patterns, (*chain, entry))
        else:
            yield (*chain, entry)


def _parameters(pattern) -> list[str]:
    if isinstance(pattern, RoutePattern):
        return list(pattern.converters)
    return list(pattern.regex.groupindex)


def _group_end(regex: str, start: int) -> int:
    depth, i, in_class = 0, start, False
    while i < len(regex):
        char = regex[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced group in {regex!r}")


def _fill_regex(regex: str, values: dict[str, str]) -> str:
    out, i = [], 0
    while i < len(regex):
        if regex.startswith("(?P<", i):
            out.append(values[regex[i + 4 : regex.index(">", i)]])
            i = _group_end(regex, i)
        elif regex[i] == "\\":
            out.append(regex[i + 1])
            i += 2
        elif regex.startswith("/?", i):  # an optional trailing slash: leave it out
            i += 2
        elif regex[i] in "^$":
            i += 1
        elif regex[i] in "()[]{}*+?|.":
            raise ValueError(f"cannot fill {regex!r}")
        else:
            out.append(regex[i])
            i += 1
    return "".join(out)


_ROUTE_PARAMETER = re.compile(r"<(?:[^>:]+:)?(?P<name>[^>]+)>")


def _fill(chain, values: dict[str, str]) -> str:
    parts = []
    for entry in chain:
        pattern = entry.pattern
        if isinstance(pattern, RoutePattern):
            parts.append(
                _ROUTE_PARAMETER.sub(
                    lambda m, p=pattern: p.converters[m["name"]].to_url(values[m["name"]]),
                    pattern._route,
                )
            )
        elif isinstance(pattern, RegexPattern):
            parts.append(_fill_regex(pattern._regex, values))
        else:
            raise ValueError(f"unknown pattern type {type(pattern).__name__}")
    return "/" + "".join(parts)


def _model_admin(callback) -> admin.ModelAdmin | None:
    """The ModelAdmin behind a view: ModelAdmin.get_urls marks its views; extra views a
    ModelAdmin adds (UserAdmin's password page, RegionAdmin's basemap) are its bound methods."""
    found = getattr(callback, "model_admin", None)
    view = callback
    while found is None and view is not None:
        found = getattr(view, "__self__", None)
        view = getattr(view, "__wrapped__", None)
    return found if isinstance(found, admin.ModelAdmin) else None


def _view_model(callback) -> type[models.Model] | None:
    """The model a view's object parameter refers to: admin's model, the DRF viewset's model."""
    model_admin = _model_admin(callback)
    if model_admin is not None:
        return model_admin.model
    cls = getattr(callback, "cls", None)
    if cls is not None and issubclass(cls, GenericAPIView):
        model = getattr(cls, "model", None)
        if model is None and getattr(cls, "queryset", None) is not None:
            model = cls.queryset.model
        if model is None and cls.serializer_class is not None:
            model = getattr(getattr(cls.serializer_class, "Meta", None), "model", None)
        return model
    return None


def _renderer_formats(callback) -> list[str]:
    cls = getattr(callback, "cls", None)
    if cls is None or not issubclass(cls, APIView):
        return []
    return [renderer.format for renderer in cls.renderer_classes]


def _admin_models() -> list[type[models.Model]]:
    return sorted(admin.site._registry, key=lambda m: m._meta.label_lower)


@dataclass
class _Plan:
    values: dict[str, str] = field(default_factory=dict)
    model: type[models.Model] | None = None
    mine_found: bool = True


def _plans(callback, names: list[str]) -> tuple[list[_Plan], str | None]:
    """Every way to fill the parameters, or the reason they cannot be filled."""
    plans = [_Plan(model=_view_model(callback))]
    todo = list(names)
    if "content_type_id" in todo:  # the admin's view-on-site shortcut: any model, any object
        todo.remove("content_type_id")
        plans = [
            _Plan({"content_type_id": CT}, model, hasattr(model, "get_absolute_url"))
            for model in _admin_models()
        ]
    if "url" in todo and plans[0].model is None:  # the admin's catch-all: an object path, no slash
        todo.remove("url")
        plans = [
            _Plan({"url": f"{m._meta.app_label}/{m._meta.model_name}/{PK}"}, m)
            for m in _admin_models()
        ]
    for name in todo:
        if name in OBJECT_PARAMETERS:
            if plans[0].model is None:
                return [], f"<{name}> names an object of no model the walk can find"
            for plan in plans:
                plan.values[name] = PK
        elif name == "format":
            formats = _renderer_formats(callback)
            if not formats:
                return [], "<format> of a view without renderers"
            plans = [
                _Plan({**plan.values, name: fmt}, plan.model, plan.mine_found)
                for plan in plans
                for fmt in formats
            ]
        elif name == "layer":
            from layers.catalogue import LAYERS

            plans = [
                _Plan(
                    {**plan.values, name: layer},
                    plan.model or apps.get_model(LAYER_MODELS[layer]),
                    plan.mine_found,
                )
                for plan in plans
                for layer in LAYERS
            ]
        elif name == "token":  # a public QR token: of the side's device
            for plan in plans:
                plan.values[name] = TOKEN
                plan.model = plan.model or apps.get_model("registry.equipment")
        elif name in TILE:
            for plan in plans:
                plan.values[name] = TILE[name]
        elif name == "app_label":
            labels = sorted({m._meta.app_label for m in _admin_models()})
            plans = [
                _Plan({**plan.values, name: label}, plan.model, plan.mine_found)
                for plan in plans
                for label in labels
            ]
        else:
            return [], f"no value known for <{name}>"
    return plans, None


def _kind(callback) -> str:
    if _model_admin(callback) is not None:
        return "admin"
    return "api" if isinstance(getattr(callback, "cls", None), type) else "page"


def walk() -> tuple[list[Endpoint], dict[str, str]]:
    endpoints, skipped = [], {}
    for chain in _chains(get_resolver().url_patterns):
        view = chain[-1]
        route = "".join(str(entry.pattern) for entry in chain)
        names = [name for entry in chain for name in _parameters(entry.pattern)]
        plans, reason = _plans(view.callback, names)
        if reason:
            skipped[route] = reason
            continue
        actions = getattr(view.callback, "actions", None) or {}
        for plan in plans:
            try:
                path = _fill(chain, plan.values)
            except (KeyError, ValueError) as error:
                skipped[route] = f"cannot fill: {error}"
                break
            # The filled URL must lead back to this very pattern.
            match = resolve(urlsplit(path.replace(PK, "1").replace(CT, "1")).path)
            if match.func is not view.callback or set(match.kwargs) != set(names):
                skipped[route] = f"filled as {path}, which resolves to {match.route}"
                break
            # A DRF view also answers in each renderer's format by query (?format=api), which is
            # what a browser gets too (Accept: text/html): the browsable API renders forms.
            overrides = [] if "format" in names else _renderer_formats(view.callback)
            for query in ["", *(urlencode({FORMAT_OVERRIDE: fmt}) for fmt in overrides)]:
                endpoints.append(
                    Endpoint(
                        route=route,
                        path=path + (f"?{query}" if query else ""),
                        model=plan.model._meta.label_lower if plan.model else None,
                        name=view.name,
                        kind=_kind(view.callback),
                        list_action=actions.get("get") == "list",
                        mine_found=plan.mine_found,
                        view=writes.view_key(view.callback),
                        writes=writes.writes(view.callback),
                        public=PUBLIC_ROUTES.get(route, ""),
                    )
                )
    return endpoints, skipped


ENDPOINTS, SKIPPED = walk()
_PATH_COUNTS = Counter(e.path for e in ENDPOINTS)
ENDPOINT_IDS = [e.path if _PATH_COUNTS[e.path] == 1 else f"{e.path} [{e.model}]" for e in ENDPOINTS]


def _autocompletes() -> list[tuple[str, str, str]]:
    found = []
    for model, model_admin in admin.site._registry.items():
        for name in model_admin.autocomplete_fields:
            remote = model._meta.get_field(name).related_model
            found.append((model._meta.label_lower, name, remote._meta.label_lower))
    return sorted(found)


AUTOCOMPLETES = _autocompletes()


# --------------------------------------------------------------------------- the world


def _scoped(model: type[models.Model]) -> bool:
    return hasattr(model._default_manager.all(), "visible_to")


WORLD_LABELS = (
    "geo.region",
    "accounts.agency",
    "accounts.user",
    "accounts.auditentry",
    "registry.unit",
    "registry.person",
    "registry.certificate",
    "registry.equipment",
    "registry.inspection",
    "registry.lifecycleevent",
    "registry.accident",
    "registry.emergencyresource",
    "cylinders.cylinder",
    "licensing.licence",
    "cylinders.fillingrecord",
    "cylinders.violation",
    "cylinders.stationtoken",
)


@dataclass
class Side:
    """One county's records, by model label, and the strings that identify them."""

    code: str
    objects: dict[str, models.Model]
    needles: dict[str, str]
    terms: dict[str, list[str]]


def _build_side(code: str, tag: str, user, agency, serial: int) -> Side:
    tail = code[-4:]
    unit = services.register_unit(
        acting_user=user,
        name=f"{tag}单位",
        # A filling station too: the cylinder pages and the stations layer show it (issue 21).
        roles=[UnitRole.USE, UnitRole.MAINTENANCE, UnitRole.INSPECTION, UnitRole.FILLING],
        credit_code=credit_code(code, 8_100_000 + serial),
        address=f"{tag}路{serial}号",
        location=inside(code),
        contact_name=f"{tag}单位联系人",
        contact_phone=f"1397773{tail}",
    )
    nid = national_id(code, dt.date(1985, 5, 5), 700 + serial)
    person = services.register_person(
        acting_user=user,
        name=f"{tag}人员",
        role="inspector",
        region_code=code,
        employer=unit,
        national_id=nid,
        phone=f"1397771{tail}",
        certificates=[
            {
                "kind": "特种设备检验人员证",
                "number": f"LEAKC{code}",
                "issued_on": dt.date(2022, 1, 1),
                "expires_on": dt.date(2030, 1, 1),
                "issuer": f"{tag}发证机关",
            }
        ],
    )
    equipment, _ = services.register_equipment(
        acting_user=user,
        variety_code="3110",
        use_unit=unit,
        maintenance_unit=unit,
        location=inside(code),
        address=f"{tag}地点",
        device_code=device_code("3110", f"X{tail}", 2020, 77),
        registration_code=registration_code("3110", code, dt.date(2015, 3, 1), 70 + serial),
        certificate_number=certificate_number("梯", "3110", "宁", "A", 97100 + serial, 2020),
        rescue_id=f"96{tail}",
        commissioned_on=dt.date(2020, 6, 1),
    )
    # Failed: the device is overdue, so it is drawn on the home page map too.
    inspection = services.record_inspection(
        equipment,
        acting_user=user,
        conclusion="fail",
        inspected_on=dt.date.today() - dt.timedelta(days=10),
        body=unit,
        inspector=person,
        defects=2,
        defect_notes=f"{tag}缺陷描述",
        report_number=f"LEAKR{code}",
    )
    event = services.record_lifecycle_event(
        equipment,
        "modification",
        acting_user=user,
        occurred_on=dt.date(2021, 3, 1),
        unit=unit,
        details={"note": f"{tag}改造记录"},
    )
    accident = services.record_accident(
        acting_user=user,
        occurred_at=timezone.now() - dt.timedelta(days=1),
        kind=f"{tag}事故",
        equipment=equipment,
        injuries=1,
        address=f"{tag}事故地点",
        description=f"{tag}事故经过",
    )
    resource = services.register_resource(
        acting_user=user,
        name=f"{tag}救援队",
        resource_type="rescue_team",
        location=inside(code),
        capability=f"{tag}救援能力",
        contact_name=f"{tag}资源联系人",
        contact_phone=f"1397772{tail}",
        address=f"{tag}资源地址",
        unit=unit,
    )
    # An export of everything the user sees, run to its file: their file (CSV, plain text, so the
    # needles would show) must not reach me, and mine must hold none of their rows.
    export = run_export(request_export(user, {**EXPORT, "layer": "equipment"}).pk)
    assert export.state == "done", export.error
    # An incident at the device, dispatched with a note: its page, timeline, asks and lists stay home.
    incident = response_services.report_incident(
        at_equipment(user, equipment.pk),
        acting_user=user,
        summary=f"{tag}报警内容",
        address=f"{tag}事件地点",
    )
    # Dispatched to the device's contracted maintenance unit (the unit), an ask open to answer.
    dispatch = dispatch_incident(incident.pk, acting_user=user, note=f"{tag}派单备注")
    # Shared with a third county (neither side): the grant must not open it to the other side.
    grant = response_services.grant_incident(
        incident.pk, grantee_code=SHIZUISHAN_DAWUKOU, hours=2, reason=f"{tag}授权事由",
        acting_user=user,
    )  # fmt: skip
    # Its QR token, and a report from the public at it (an incident of its own, on the desk).
    token = public_services.issue_token(equipment, acting_user=user).token
    public_report = public_services.report_problem(
        equipment, kind="trapped", phone=f"1397774{tail}", description=f"{tag}公众报告",
        photo=PUBLIC_PHOTO, photo_max_bytes=len(PUBLIC_PHOTO),
    )  # fmt: skip
    user.email = f"leak{tail}@segis.test"
    user.first_name = f"{tag}用户"
    user.save()
    region = Region.objects.get(code=code)
    certificate = person.certificates.get()
    audit = AuditEntry.objects.get(action="unit.registered", object_pk=str(unit.pk))
    assert audit.region_code == code
    # A file the county's supervisor uploaded and dry-ran: its page, report and findings stay home.
    # A stored file (the write walk maps, dry-runs and commits it), as its dry run left it.
    ledger = csv_file([device_row(serial, code)], name="台账.csv")
    import_job = import_jobs.create_job(user, ledger, f"{tag}导入.csv", source=f"{tag}来源")
    import_job.state = "validated"
    import_job.summary = {**import_job.summary, "rows": 1, "errors": 1, "warnings": 0}
    import_job.save(update_fields=["state", "summary"])
    ImportFinding.objects.create(
        job=import_job, row=2, column="设备代码", value=equipment.device_code,
        rule="catalogue.unknown", severity="error", message=f"{tag}导入问题",
    )  # fmt: skip
    objects = {  # keys: WORLD_LABELS, and models without an admin page (export job, incident)
        "geo.region": region,
        "accounts.agency": agency,
        "accounts.user": user,
        "accounts.auditentry": audit,
        "registry.unit": unit,
        "registry.person": person,
        "registry.certificate": certificate,
        "registry.equipment": equipment,
        "registry.inspection": inspection,
        "registry.lifecycleevent": event,
        "registry.accident": accident,
        "registry.emergencyresource": resource,
        "exports.exportjob": export,
        "registry.importjob": import_job,
        "response.incident": incident,
        "response.dispatch": dispatch,
        "response.incidentgrant": grant,
        "public.publicreport": public_report,
    }
    objects.update(_patrol_plan(user))
    objects.update(_cylinders(code, unit, user))
    objects.update(_licensing(code, unit, user, objects["registry.equipment"]))
    objects.update(_supervision(code, unit, equipment, user))
    # An inspector to put on a patrol team (the write walk's team members).
    objects["patrol.inspector"] = User.objects.create_user(
        f"inspector{tail}", password="pw-for-tests", agency=agency, role=Role.INSPECTOR
    )
    needles = {
        "import file": import_job.original_name,
        "import finding": f"{tag}导入问题",
        "region name": region.name,
        "agency name": agency.name,
        "user email": user.email,
        "user first name": user.first_name,
        "unit name": unit.name,
        "unit credit code": unit.credit_code,
        "unit address": unit.address,
        "unit contact": unit.contact_name,
        "unit phone": unit.contact_phone,
        "device code": equipment.device_code,
        "registration code": equipment.registration_code,
        "use certificate number": equipment.certificate_number,
        "96333 rescue ID": equipment.rescue_id,
        "equipment address": equipment.address,
        "inspection report": inspection.report_number,
        "inspection defects": inspection.defect_notes,
        "life-cycle note": event.details["note"],
        "person name": person.name,
        "national ID (masked)": person.national_id_masked,
        "national ID": nid,
        "person phone": person.phone,
        "person certificate": certificate.number,
        "certificate issuer": certificate.issuer,
        "accident kind": accident.kind,
        "accident address": accident.address,
        "accident description": accident.description,
        "resource name": resource.name,
        "resource capability": resource.capability,
        "resource contact": resource.contact_name,
        "resource phone": resource.contact_phone,
        "incident summary": incident.summary,
        "incident address": incident.address,
        "incident note": f"{tag}派单备注",
        "grant reason": grant.reason,
        "public token": token,
        "public report phone": public_report.phone,
        "public report description": public_report.description,
        "filling licence": objects["cylinders.filling_licence"].number,
        "cylinder tag": objects["cylinders.cylinder"].tag,
        "cylinder serial": objects["cylinders.cylinder"].serial_number,
        "filling operator": objects["cylinders.fillingrecord"].operator_certificate,
        "licence number": objects["licensing.licence"].number,
        "supervisory certificate": objects["inspections.supervisoryinspection"].certificate_number,
        "feed report": objects["inspections.feedrecord"].report_number,
    }
    terms = {
        "geo.region": [code, region.name],
        "accounts.agency": [agency.name, code],
        "accounts.user": [user.username, user.email],
        "accounts.auditentry": [str(unit.pk), user.username, "unit.registered"],
        "registry.unit": [unit.name, unit.credit_code],
        "registry.person": [person.name, nid],
        "registry.certificate": [certificate.number, person.name],
        "registry.equipment": [
            equipment.device_code,
            equipment.registration_code,
            equipment.certificate_number,
            equipment.rescue_id,
            unit.name,
            unit.credit_code,
        ],
        "registry.inspection": [equipment.device_code, inspection.report_number],
        "registry.lifecycleevent": [equipment.device_code, equipment.registration_code],
        "registry.accident": [accident.kind, accident.address, equipment.device_code, unit.name],
        "registry.emergencyresource": [resource.name, unit.name, unit.credit_code],
    }
    # A link to the record's admin pages gives away a row even where no string of it is shown.
    for label, obj in objects.items():
        needles[f"admin link to {label}"] = _admin_link(obj)
    return Side(code, objects, needles, terms)


def _licensing(code: str, unit, user, equipment) -> dict[str, models.Model]:
    """The unit's filling licence, its open application for an installation licence, and a
    modification of the side's device by the unit, which holds no installation licence (a finding
    on the unlicensed layer); its filling licences suspended a fortnight ago, so that its filling
    today (`_cylinders`, run first) is 无证充装 (the unlicensed_filling layer): the register, the
    pages and the three layers stay home (issue 23)."""
    from licensing import services as licensing_services
    from licensing.models import Licence
    from registry.models import LifecycleEvent

    today = dt.date.today()
    LifecycleEvent.objects.create(
        equipment=equipment,
        kind="modification",
        unit=unit,
        occurred_on=today - dt.timedelta(days=5),
    )
    licence = licensing_services.issue_licence(
        unit, kind="filling", scope=[{"code": "2300", "grade": ""}], number=f"TS4{code}-2030",
        authority=f"{unit.name}主管局", issued_on=today - dt.timedelta(days=400),
        expires_on=dt.date(2030, 1, 1), acting_user=user,
    )  # fmt: skip
    application = licensing_services.file_application(
        unit, kind="installation", scope=[{"code": "3000", "grade": "A"}], acting_user=user
    )
    for filling in Licence.objects.filter(unit=unit, kind="filling"):
        licensing_services.set_licence_status(
            filling, status="suspended", since=today - dt.timedelta(days=14),
            reasons="充装检查不合格", acting_user=user,
        )  # fmt: skip
    return {"licensing.licence": licence, "licensing.application": application}


def _cylinders(code: str, station, user) -> dict[str, models.Model]:
    """The unit's filling licence, its machine key and a cylinder it owns, filled once in breach of
    the rules (overdue): its chain, station day, violation, key and map figures stay home (issue
    21)."""
    from cylinders import services as cylinder_services
    from cylinders.models import FillingRecord, StationToken, Violation

    tag = station.name
    licence = cylinder_services.grant_filling_licence(
        station,
        acting_user=user,
        number=f"TS4{code}-2031",
        valid_until=dt.date(2031, 1, 1),
        issued_on=dt.date(2020, 1, 1),
    )
    cylinder = cylinder_services.register_cylinder(
        acting_user=user, owner=station, tag=f"LEAKT{code}", maker_name=f"{tag}气瓶厂",
        serial_number=f"LEAKS{code}", made_on=dt.date(2020, 1, 1), kind="lpg", volume_l="35.5",
        working_pressure_mpa="2.1", design_life_years=8,
        next_inspection_due=dt.date.today() - dt.timedelta(days=20),
    )  # fmt: skip
    row = {"tag": cylinder.tag, "filled_at": timezone.now().isoformat(), "medium": "液化石油气",
           "quantity_kg": "14.5", "check_result": "pass", "operator_certificate": f"LEAKO{code}"}  # fmt: skip
    cylinder_services.record_fillings(station, [row], acting_user=user)
    cylinder_services.issue_station_token(station, acting_user=user)
    return {
        "cylinders.filling_licence": licence,
        "cylinders.cylinder": cylinder,
        "cylinders.fillingrecord": FillingRecord.objects.get(tag=cylinder.tag),
        "cylinders.violation": Violation.objects.get(tag=cylinder.tag),
        "cylinders.stationtoken": StationToken.objects.get(station=station),
    }


def _supervision(code: str, body, equipment, user) -> dict[str, models.Model]:
    """A supervisory inspection of the side's device by its unit (an inspection body), and a batch
    the body sent about it: the findings, the body page and the manufacturing view stay home."""
    from inspections import feed
    from inspections import services as inspection_services

    inspection = inspection_services.record_supervisory_inspection(
        equipment, acting_user=user, stage="manufacture", body=body, inspected_on=dt.date(2020, 1, 5),
        conclusion="pass", report_number=f"LEAKJ{code}", certificate_number=f"LEAKV{code}",
    )  # fmt: skip
    record = {"report_number": f"LEAKR{code}", "kind": "periodic", "device_code": equipment.device_code,
              "inspected_on": dt.date(2024, 1, 5).isoformat(), "conclusion": "pass"}  # fmt: skip
    batch = feed.receive_batch(body, [record], acting_user=user).batch
    return {
        "inspections.supervisoryinspection": inspection,
        "inspections.feedbatch": batch,
        "inspections.feedrecord": batch.records.get(),
    }


def _patrol_plan(user) -> dict[str, models.Model]:
    """A patrol plan of the user's county, its overdue device the first candidate, routed for one
    team: its route and stop are the county's too (issue 5)."""
    from patrol import routes as patrol_routes
    from patrol import services as patrol_services
    from patrol.area import parse_area

    today = dt.date.today()
    plan = patrol_services.create_plan(
        user,
        parse_area(user, None),
        patrol_services.Period(today, today + dt.timedelta(days=30)),
        patrol_services.Criteria(),
    )
    patrol_routes.route_plan(
        plan.pk,
        teams=patrol_routes.parse_teams({"count": 1}, plan, user),
        days=patrol_routes.parse_days(1, plan),
        acting_user=user,
    )
    stop = PatrolStop.objects.filter(route__plan=plan).first()
    return {
        "patrol.patrolplan": plan,
        "patrol.patrolcandidate": plan.candidates.first(),
        "patrol.patrolstop": stop,
        "patrol.patrolroute": stop.route,
    }


def _admin_link(obj: models.Model) -> str:
    return f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/"


@dataclass
class World:
    theirs: Side
    mine: Side
    shared: dict[str, models.Model]
    users: dict

    def client(self, key: str) -> Client:
        client = Client()
        client.force_login(self.users[key])
        return client


@pytest.fixture(scope="module")
def _module_world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Built once for the module inside a transaction rolled back at its end (each test's own
    transaction nests in it as a savepoint): building it per test would take most of the time.
    The agencies and users are those of tests/conftest.py (function-scoped there), as staff."""
    exports = override_settings(
        EXPORT_ROOT=tmp_path_factory.mktemp("exports"),
        IMPORT_ROOT=tmp_path_factory.mktemp("imports"),
    )
    with django_db_blocker.unblock(), transaction.atomic(), exports:
        agencies = {
            code: Agency.objects.create(name=name, level=level, region_id=code)
            for code, name, level in [
                (YINCHUAN, "银川市市场监督管理局", Level.CITY),
                (XINGQING, "兴庆区市场监督管理局", Level.COUNTY),
                (XIXIA, "西夏区市场监督管理局", Level.COUNTY),
            ]
        }
        users = {
            key: User.objects.create_user(
                key,
                password="pw-for-tests",
                agency=agencies[code],
                role=Role.SUPERVISOR,
                is_staff=key != "xixia",
            )
            for key, code in [("city", YINCHUAN), ("xingqing", XINGQING), ("xixia", XIXIA)]
        }
        theirs = _build_side(XIXIA, "西夏泄露检测", users["xixia"], agencies[XIXIA], 1)
        mine = _build_side(XINGQING, "兴庆对照检测", users["xingqing"], agencies[XINGQING], 2)
        shared = {
            "registry.variety": Variety.objects.get(code="3110"),
            "registry.inspectionrule": InspectionRule.objects.order_by("pk").first(),
            "auth.group": Group.objects.order_by("pk").first(),
            # National-only: a county's staff user must not open them, and this conflict holds
            # the other county's record.
            "registry.exchangepeer": (
                peer := ExchangePeer.objects.create(
                    code="640000", name="宁夏", base_url="http://127.0.0.1:9/", token="t" * 40
                )
            ),
            "registry.exchangeconflict": ExchangeConflict.objects.create(
                peer=peer,
                seq=1,
                kind="duplicate_key",
                operation="create",
                model="registry.Equipment",
                origin_pk=theirs.objects["registry.equipment"].pk,
                division_code=XIXIA,
                message="西夏泄露检测 设备代码已被占用",
                payload={"address": "西夏泄露检测"},
            ),
        }
        yield World(theirs, mine, shared, users)
        transaction.set_rollback(True)


@pytest.fixture
def world(_module_world, db) -> World:
    return _module_world


# --------------------------------------------------------------------------- fetching and looking


@dataclass
class Fetched:
    url: str
    status: int
    location: str
    body: str
    text: str  # body and headers, plus the same with HTML, URL and JSON escapes undone


_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _readable(raw: str) -> str:
    return "\n".join(
        [
            raw,
            html.unescape(raw),
            unquote(raw),
            _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw),
        ]
    )


def answer(client: Client, method: str, url: str, **kwargs) -> Fetched:
    """One request, its answer kept as the detector reads it."""
    try:
        response = getattr(client, method)(url, **kwargs)
    except Exception as error:  # the test client re-raises what would be a 500
        raise AssertionError(
            f"{method.upper()} {url} fails (a 500 in production): {error!r}"
        ) from error
    body = (
        b"".join(response.streaming_content) if response.streaming else response.content
    ).decode("utf-8", errors="replace")
    headers = "\n".join(f"{k}: {v}" for k, v in response.items())
    location = response.get("Location", "")
    return Fetched(url, response.status_code, location, body, _readable(body + headers))


def fetch(client: Client, url: str, hops: int = 6) -> list[Fetched]:
    """GET the URL and follow redirects inside the site, keeping every response."""
    chain = []
    while True:
        chain.append(answer(client, "get", url))
        location = chain[-1].location
        if chain[-1].status not in REDIRECTS or len(chain) >= hops:
            return chain
        target = urlsplit(urljoin(url, location))
        if target.netloc not in ("", "testserver") or target.path.startswith(
            "/" + settings.STATIC_URL.lstrip("/")
        ):
            return chain
        url = target.path + (f"?{target.query}" if target.query else "")


def _pattern(needle: str) -> re.Pattern:
    escaped = re.escape(needle)
    # Digits-only needles (phones, IDs) must stand alone: not part of a longer number.
    return re.compile(rf"(?<!\d){escaped}(?!\d)" if needle.isdigit() else escaped)


def found(chain: list[Fetched], needles: dict[str, str]) -> list[str]:
    hits = []
    for page in chain:
        for label, needle in needles.items():
            match = _pattern(needle).search(page.text)
            if match:
                context = page.text[max(match.start() - 80, 0) : match.end() + 80]
                hits.append(f"{page.url} [{page.status}] shows {label} {needle!r}: …{context}…")
    return hits


def assert_clean(chain: list[Fetched], world: World, echoed: tuple[str, ...] = ()) -> None:
    """No 5xx, and none of their strings. What the request itself carries (a search term, the
    path of the record asked for) may come back as typed: those needles are left out, and the
    others (the rest of the row, its admin link, JSON ids) still give a leaked row away."""
    for page in chain:
        probe = page.status == 503 and page.url.split("?")[0] in PROBE_UNAVAILABLE
        assert page.status < 500 or probe, f"{page.url} answered {page.status}"
    forbidden = {
        **world.theirs.needles,
        "my full national ID (never shown unmasked)": world.mine.needles["national ID"],
    }
    forbidden = {k: v for k, v in forbidden.items() if not any(v in e for e in echoed)}
    hits = found(chain, forbidden)
    assert not hits, "cross-jurisdiction leak:\n" + "\n".join(hits)


def _missing_pk(model: type[models.Model]) -> str:
    pk = MISSING_INT_PK if model._meta.pk.get_internal_type().endswith("AutoField") else None
    pk = pk or MISSING_CHAR_PK
    assert not model._default_manager.filter(pk=pk).exists()
    return pk


def _model(label: str) -> type[models.Model]:
    return apps.get_model(label)


def _url(endpoint: Endpoint, pk: str) -> str:
    ct = ContentType.objects.get_for_model(_model(endpoint.model), for_concrete_model=False)
    return endpoint.path.replace(PK, pk).replace(CT, str(ct.pk))


# Per-response tokens: CSRF, and the CSP nonce of a full page's script (a form page answered 400).
_CSRF = re.compile(r'(csrfmiddlewaretoken" value="|"csrfToken": "|nonce=")[^"]+')


def _as_is(page: Fetched) -> str:
    return _CSRF.sub(r"\1<csrf>", f"{page.location}\n{page.body}")


def _normalised(page: Fetched, pk: str) -> str:
    """Body and redirect target with the id asked for (and CSRF tokens) blotted out."""
    text = _CSRF.sub(r"\1<csrf>", f"{page.location}\n{page.body}")
    return re.sub(rf"(?<=[/=]){re.escape(pk)}(?=[/.&\"' \n]|$)", "<pk>", text)


def _variants(endpoint: Endpoint, world: World) -> list[str]:
    """Query strings worth asking a list page: searches and filters naming their rows."""
    theirs = world.theirs
    queries = [""]
    if endpoint.name and endpoint.name.endswith("_changelist"):
        queries += [urlencode({"q": t}) for t in theirs.terms.get(endpoint.model, [])]
        queries += [urlencode({"region": theirs.code})]
    elif endpoint.name and endpoint.name.endswith("_add"):
        # An add form pre-filled with their record: its label must not be rendered.
        for f in _model(endpoint.model)._meta.fields:
            target = f.related_model._meta.label_lower if f.many_to_one else None
            if target in theirs.objects:
                queries.append(urlencode({f.name: theirs.objects[target].pk}))
    elif endpoint.list_action:
        search = theirs.terms.get(endpoint.model, [])
        queries += [urlencode({"search": t}) for t in search]
        queries += [urlencode({"code": t}) for t in theirs.terms["registry.equipment"][:4]]
        queries += [urlencode({"region": theirs.code}), urlencode({"region": theirs.code[:4]})]
    elif endpoint.route.startswith(GEOJSON_ROUTE):
        # GeoJSON answers nothing without a bbox: one over both counties, then narrowed to theirs.
        box = _both_counties(world)
        queries += [urlencode({"bbox": box}), urlencode({"bbox": box, "region": theirs.code})]
    elif endpoint.route == OGC_ITEMS_ROUTE:
        # Without a bbox the whole jurisdiction; then a box over both counties, then theirs.
        box = _both_counties(world)
        queries += [urlencode({"bbox": box}), urlencode({"region": theirs.code})]
    elif endpoint.route.startswith(RESPONSE_ROUTE) and endpoint.model is None:
        # Locating and looking around: by their codes, unit and device, at their place, and at
        # mine, next door to theirs, where their resources must not be offered.
        codes = theirs.terms["registry.equipment"][:4]
        queries += [urlencode({way: code}) for code in codes for way in ("code", "q")]
        queries += [urlencode({"unit": theirs.objects["registry.unit"].name})]
        queries += [urlencode({"equipment": theirs.objects["registry.equipment"].pk})]
        for side in (theirs, world.mine):
            spot = side.objects["registry.equipment"].location
            queries.append(urlencode({"point": f"{spot.x},{spot.y}"}))
    joint = "&" if "?" in endpoint.path else "?"
    return [endpoint.path + (f"{joint}{q}" if q else "") for q in queries]


def _both_counties(world: World) -> str:
    boundaries = [side.objects["geo.region"].boundary for side in (world.theirs, world.mine)]
    return ",".join(str(v) for v in boundaries[0].union(boundaries[1]).extent)


def _echoed(url: str) -> tuple[str, ...]:
    return tuple(value for _, value in parse_qsl(urlsplit(url).query))


def _listed_ids(page: Fetched) -> set[str]:
    """The ids of the records in a JSON list answer (paginated, GeoJSON or plain)."""
    try:
        data = json.loads(page.body)
    except ValueError:
        return set()
    if isinstance(data, dict) and "results" in data:
        data = data["results"]
    if isinstance(data, dict) and "features" in data:
        data = data["features"]
    if not isinstance(data, list):
        return set()
    return {str(row.get("id", row.get("code"))) for row in data if isinstance(row, dict)}


# --------------------------------------------------------------------------- the tests


def _check_public(endpoint: Endpoint, world: World) -> None:
    """A public route, as the county user and as nobody: their device shows its public fields and
    nothing else of theirs; an unknown token or code answers like a missing record."""
    theirs = world.theirs
    forbidden = {k: v for k, v in theirs.needles.items() if k not in PUBLIC_NEEDLES}
    forbidden["my full national ID (never shown unmasked)"] = world.mine.needles["national ID"]
    device = theirs.objects["registry.equipment"]
    if TOKEN in endpoint.path:
        urls = [endpoint.path.replace(TOKEN, theirs.needles["public token"])]
        missing = endpoint.path.replace(TOKEN, public_services.new_token())
    elif endpoint.path.endswith("/cylinder/"):
        # A cylinder's status by its tag: the tag of theirs shows the public status only.
        tag = theirs.objects["cylinders.cylinder"].tag
        urls = [endpoint.path, f"{endpoint.path}?{urlencode({'tag': tag})}"]
        missing = f"{endpoint.path}?{urlencode({'tag': 'NO-SUCH-TAG-0'})}"
    else:
        codes = [device.certificate_number, device.rescue_id, device.device_code,
                 device.registration_code]  # fmt: skip
        urls = [endpoint.path, *(f"{endpoint.path}?{urlencode({'code': c})}" for c in codes)]
        missing = f"{endpoint.path}?{urlencode({'code': '梯11宁Z99999(99)'})}"
    # Nobody from another address: each client has its own lookup limit (public/ratelimit.py).
    for client in (world.client("xingqing"), Client(REMOTE_ADDR="192.0.2.80")):
        for url in urls:
            chain = fetch(client, url)
            echoed = (theirs.needles["public token"], *_echoed(url))
            for page in chain:
                assert page.status < 500, f"{page.url} answered {page.status}"
            allowed = {k: v for k, v in forbidden.items() if not any(v in e for e in echoed)}
            hits = found(chain, allowed)
            assert not hits, "the public space shows more than the public card:\n" + "\n".join(hits)
        gone = fetch(client, missing)
        assert gone[-1].status == 404, f"{missing} answered {gone[-1].status}"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
def test_endpoint_leaks_nothing_to_the_neighbouring_county(endpoint: Endpoint, world: World):
    if endpoint.public:
        _check_public(endpoint, world)
        return
    client = world.client("xingqing")
    if not endpoint.detail:
        their = world.theirs.objects.get(endpoint.model)
        for url in _variants(endpoint, world):
            chain = fetch(client, url)
            assert_clean(chain, world, _echoed(url))
            if their is not None:
                assert str(their.pk) not in _listed_ids(chain[-1]), f"{url} lists theirs"
        return

    model = _model(endpoint.model)
    if not _scoped(model):  # reference data: the same for every jurisdiction
        shared = world.shared.get(endpoint.model)
        assert shared is not None, f"give the world a shared {endpoint.model} to open"
        assert_clean(fetch(client, _url(endpoint, str(shared.pk))), world)
        return

    theirs = world.theirs.objects.get(endpoint.model)
    assert theirs is not None, f"give the world one {endpoint.model} in each county"
    their_pk, missing_pk = str(theirs.pk), _missing_pk(model)
    chain = fetch(client, _url(endpoint, their_pk))
    # The path asked for names their record: its admin link may come back in a redirect.
    assert_clean(chain, world, echoed=(_admin_link(theirs),))
    final = chain[-1]
    assert final.status in (403, 404), (
        f"{chain[0].url}: their {endpoint.model} answered {[p.status for p in chain]}, "
        "not 404 like a missing record"
    )
    # Indistinguishable from a record that does not exist: same answers, same redirects, same body.
    missing = fetch(client, _url(endpoint, missing_pk))
    assert [p.status for p in chain] == [p.status for p in missing], (chain[0].url, missing_pk)
    assert [_normalised(p, their_pk) for p in chain] == [
        _normalised(p, missing_pk) for p in missing
    ], f"{chain[0].url} answers differently from a missing {endpoint.model}"

    # Control: the same endpoint with my own record shows none of theirs either, and finds mine.
    mine = fetch(client, _url(endpoint, str(world.mine.objects[endpoint.model].pk)))
    assert_clean(mine, world)
    if endpoint.mine_found:
        assert mine[-1].status != 404, f"{mine[0].url}: my own {endpoint.model} is not found"


@pytest.mark.parametrize(("source", "field_name", "remote"), AUTOCOMPLETES)
def test_autocomplete_offers_nothing_of_the_neighbouring_county(
    source, field_name, remote, world: World
):
    app_label, model_name = source.split(".")
    base = {"app_label": app_label, "model_name": model_name, "field_name": field_name}
    their = world.theirs.objects[remote]
    terms = world.theirs.terms[remote]

    client = world.client("xingqing")
    for term in ["", *terms]:
        url = "/admin/autocomplete/?" + urlencode({**base, "term": term})
        chain = fetch(client, url)
        assert_clean(chain, world, _echoed(url))
        assert chain[-1].status in (200, 403), url
        if chain[-1].status == 200:
            ids = {row["id"] for row in json.loads(chain[-1].body)["results"]}
            assert str(their.pk) not in ids, f"{url} offers their {remote} #{their.pk}"

    # Positive control: the city sees their row through the same autocomplete.
    city = world.users["city"]
    url = "/admin/autocomplete/?" + urlencode({**base, "term": terms[0]})
    response = world.client("city").get(url)
    remote_model = _model(remote)
    if city.has_perm(f"{remote_model._meta.app_label}.view_{remote_model._meta.model_name}"):
        assert response.status_code == 200, url
        ids = {row["id"] for row in response.json()["results"]}
        assert str(their.pk) in ids, f"the city does not find {remote} #{their.pk} at {url}"
    else:
        assert response.status_code == 403, url


POSITIVE = [
    ("/api/equipment/", "device code"),
    ("/api/units/", "unit name"),
    ("/api/accidents/", "accident kind"),
    ("/api/resources/", "resource name"),
    ("/admin/registry/equipment/", "device code"),
    ("/admin/registry/equipment/", "unit name"),
    ("/admin/registry/unit/", "unit name"),
    ("/admin/registry/accident/", "accident kind"),
    ("/admin/registry/emergencyresource/", "resource name"),
    ("/admin/registry/emergencyresource/", "resource phone"),
    ("/admin/registry/person/", "person name"),
    ("/admin/registry/person/", "national ID (masked)"),
    ("/", "device code"),
    ("/", "accident kind"),
    ("/", "resource name"),
]


@pytest.mark.parametrize(("viewer", "side"), [("city", "theirs"), ("xingqing", "mine")])
@pytest.mark.parametrize(("url", "needle"), POSITIVE, ids=[f"{u} {n}" for u, n in POSITIVE])
def test_the_detector_finds_what_the_viewer_may_see(url, needle, viewer, side, world: World):
    """Positive control: the city sees 西夏区's rows and the county its own, by the same detector."""
    assert url in {e.path for e in ENDPOINTS}, f"{url} is no longer in the URL conf"
    records = getattr(world, side)
    chain = fetch(world.client(viewer), url)
    assert chain[-1].status == 200, chain[-1].url
    assert found(chain, {needle: records.needles[needle]}), (
        f"{viewer} does not see {needle} at {url}"
    )
    assert not found(chain, {"full national ID": records.needles["national ID"]})


@pytest.mark.parametrize("layer", ["units", "accidents", "resources", "overdue"])
def test_the_city_finds_their_rows_in_the_geojson(layer, world: World):
    """Positive control for the GeoJSON cases: the walk's bbox does cover their rows."""
    url = f"/{GEOJSON_ROUTE}{layer}?" + urlencode({"bbox": _both_counties(world)})
    [page] = fetch(world.client("city"), url)
    assert page.status == 200, page.body
    their = world.theirs.objects[LAYER_MODELS[layer]]
    assert str(their.pk) in _listed_ids(page), f"the city does not see their {layer} at {url}"


@pytest.mark.parametrize("layer", list(LAYER_MODELS))
def test_the_city_finds_their_rows_in_the_ogc_api(layer, world: World):
    """Positive control for the OGC API cases: the walk's requests do reach their rows."""
    url = f"/ogcapi/collections/{layer}/items?" + urlencode({"bbox": _both_counties(world)})
    [page] = fetch(world.client("city"), url)
    assert page.status == 200, page.body
    their = world.theirs.objects[LAYER_MODELS[layer]]
    assert str(their.pk) in _listed_ids(page), f"the city does not see their {layer} at {url}"


def test_the_walk_reaches_the_admin_and_the_api():
    """The walk itself: every admin model's list and change page and every router route are cases."""
    paths = {e.path for e in ENDPOINTS}
    for model in _admin_models():
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert {base, f"{base}{PK}/change/", f"{base}{PK}/history/"} <= paths, base
    for prefix, _, _ in router.registry:
        assert {f"/api/{prefix}/", f"/api/{prefix}/{PK}/", f"/api/{prefix}.json"} <= paths, prefix
    assert "/" in paths and "/admin/autocomplete/" in paths
    assert {f"/{GEOJSON_ROUTE}{layer}" for layer in LAYER_MODELS} <= paths
    assert {f"/ogcapi/collections/{layer}/items" for layer in LAYER_MODELS} <= paths
    assert {f"/ogcapi/collections/{layer}/items/{PK}" for layer in LAYER_MODELS} <= paths
    assert AUTOCOMPLETES, "no admin declares autocomplete_fields"


def test_only_allowed_patterns_are_skipped():
    assert SKIPPED == SKIP_ALLOWED


def test_the_public_routes_are_named():
    """Every route of the public space is in PUBLIC_ROUTES with its reason, and only those."""
    prefix = settings.PUBLIC_PATH_PREFIX
    public = {e.route for e in ENDPOINTS if ("/" + e.route).startswith(prefix)}
    assert public == set(PUBLIC_ROUTES)
    assert {e.route for e in ENDPOINTS if e.public} == set(PUBLIC_ROUTES)


def test_every_scoped_admin_model_is_in_the_world():
    """A newly registered scoped model needs its pair of records here, or its pages go untested."""
    labels = {m._meta.label_lower for m in _admin_models() if _scoped(m)}
    assert labels == set(WORLD_LABELS), labels ^ set(WORLD_LABELS)


# --------------------------------------------------------------------------- the write walk
#
# Every write the URL conf accepts (tests/leaks/writes.py finds them in the views), made by the
# 兴庆区 supervisor against 西夏区's records:
#   * "object": their record in the URL. The answer is 404 like a missing record (same status and
#     body), or 403 where the role is refused before the record is looked up: then my own record
#     answers 403 too. Nothing in the database changes (row counts of every table, and every row
#     of both worlds and the shared records). The same write on my record is found (not a 404) and
#     succeeds, or is refused to the role (403), or (an admin delete) is kept by protected records.
#   * "reference": a create (or a write to my record) naming their record or place in one field.
#     It is refused (4xx; the admin re-shows its form with errors) and changes nothing; the same
#     body naming mine succeeds. Uploads are accepted (the file is checked later), adding only
#     the requester's own job.
#   * "action": an admin list action on their record: answered like a missing record, nothing
#     changes.
#   * "refused": an admin add form the role may not open (403), even with the model's
#     permissions (history, reference data, national-only records).
# The admin refuses most writes to the role by permission before any record is looked up; where
# my own record answers 403, the case runs again with the model's permissions granted to the user
# (inside the test's transaction), so the jurisdiction itself is what refuses. The admin's views
# take every method but POST as a GET: only POST is written.

SUCCESS_REDIRECTS = {302, 303}
# Cases showing a real leak or a 5xx, until the application is fixed: case id → what happens.
KNOWN_WRITE_LEAKS: dict[str, str] = {}


@dataclass(frozen=True)
class WriteCase:
    endpoint: Endpoint
    method: str
    view: str  # the answering view, or a viewset's action: RECIPES' key with the method
    kind: str  # "object", "reference", "action" or "refused"
    ref: str | None = None  # the field naming their record, or the list action

    @property
    def id(self) -> str:
        detail = f" {self.ref}" if self.ref else ""
        return f"{self.method.upper()} {self.endpoint.path} [{self.kind}{detail}]"


def _admin_actions(label: str) -> list[str]:
    model_admin = admin.site._registry[_model(label)]
    return sorted(name for _, name, _ in model_admin._get_base_actions())


def _admin_cases(endpoint: Endpoint, view: str) -> list[WriteCase] | None:
    how = writes.ADMIN_WRITES.get(view.rsplit(".", 1)[-1])
    if how is None:
        return None
    refs = writes.ADMIN_REFS.get(endpoint.model, {})
    if how == "action":
        return [
            WriteCase(endpoint, "post", view, "action", a) for a in _admin_actions(endpoint.model)
        ]
    if how == "reference":
        found = [WriteCase(endpoint, "post", view, "reference", r) for r in refs.get("add", ())]
        return found or [WriteCase(endpoint, "post", view, "refused")]
    found = [WriteCase(endpoint, "post", view, "object")]
    if view.endswith(".change_view"):
        found += [WriteCase(endpoint, "post", view, "reference", r) for r in refs.get("change", ())]
    return found


def write_walk() -> tuple[list[WriteCase], list[str]]:
    """The cases, and the writes no case makes and no allow-list names."""
    cases, uncovered = [], []
    for endpoint in ENDPOINTS:
        if "?" in endpoint.path or not endpoint.writes:
            continue
        if endpoint.view in (*writes.ALLOWED, *writes.READS, *writes.PUBLIC):
            continue
        for method, view in endpoint.writes:
            if endpoint.kind == "admin":
                if method == "post":
                    found = _admin_cases(endpoint, view)
                    if found is None:
                        uncovered.append(f"POST {endpoint.route} ({view})")
                    cases += found or []
                continue
            recipe = writes.RECIPES.get((view, method))
            if recipe is None or not (endpoint.detail or recipe.refs):
                uncovered.append(f"{method.upper()} {endpoint.route} ({view})")
                continue
            if endpoint.detail:
                cases.append(WriteCase(endpoint, method, view, "object"))
            cases += [WriteCase(endpoint, method, view, "reference", r) for r in recipe.refs]
    return cases, uncovered


WRITE_CASES, UNCOVERED_WRITES = write_walk()
METHOD_BLIND_READS = [e for e in ENDPOINTS if "?" not in e.path and e.view in writes.READS]


@cache
def _tables() -> tuple[str, ...]:
    return tuple(
        sorted(
            {
                m._meta.db_table
                for m in apps.get_models(include_auto_created=True)
                if m._meta.managed and not m._meta.proxy
            }
        )
    )


def _snapshot(world: World) -> dict:
    """Row counts of every table, and every row of both worlds' and the shared records."""
    tables = _tables()
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(f'(SELECT count(*) FROM "{t}")' for t in tables))
        counts = dict(zip(tables, cursor.fetchone(), strict=True))
    records = [(f"{side.code} {label}", obj) for side in (world.theirs, world.mine)
               for label, obj in side.objects.items()]  # fmt: skip
    records += [(f"shared {label}", obj) for label, obj in world.shared.items()]
    rows = {key: list(type(obj)._base_manager.filter(pk=obj.pk).values()) for key, obj in records}
    return {"counts": counts, "rows": rows}


# Every 403 to a signed-in user leaves its audit row (accounts/middleware.py), and every sign-in
# its access log: a refused write may add those, and nothing else.
ALWAYS_GROW = ("accounts.auditentry", "axes.accesslog")


def _changes(before: dict, after: dict, may_grow: tuple[str, ...] = ()) -> list[str]:
    grow = {_model(label)._meta.db_table for label in (*may_grow, *ALWAYS_GROW)}
    found = [
        f"{table}: {before['counts'][table]} → {n} rows"
        for table, n in after["counts"].items()
        if n != before["counts"][table] and not (table in grow and n > before["counts"][table])
    ]
    for key, rows in after["rows"].items():
        if rows != before["rows"][key]:
            old, new = (before["rows"][key] or [{}])[0], (rows or [{}])[0]
            fields = sorted(k for k in {*old, *new} if old.get(k) != new.get(k))
            found.append(f"{key} changed: {fields}" if rows else f"{key} deleted")
    return found


def _send(client: Client, method: str, url: str, body: dict, encoding: str) -> Fetched:
    if encoding == "json":
        return answer(
            client, method, url, data=writes.json_body(body), content_type="application/json"
        )
    return answer(client, method, url, data={k: v for k, v in body.items() if v is not None})


def _succeeded(page: Fetched, kind: str) -> bool:
    if kind == "admin":
        return page.status in SUCCESS_REDIRECTS
    return 200 <= page.status < 300 or (kind == "page" and page.status in SUCCESS_REDIRECTS)


def _refused(page: Fetched, kind: str) -> bool:
    form_errors = kind == "admin" and page.status == 200 and 'class="errornote"' in page.body
    return 400 <= page.status < 500 or form_errors


def _deletion_refused(case: WriteCase, page: Fetched) -> bool:
    """The admin's delete page shown again without its confirm button: the record is kept, as
    other records protect it."""
    deleting = case.view.endswith(".delete_view")
    return deleting and page.status == 200 and 'name="post"' not in page.body


def _grant(world: World, label: str) -> None:
    """Every permission of the model to the county supervisor (undone with the test)."""
    from django.contrib.auth.models import Permission

    ct = ContentType.objects.get_for_model(_model(label))
    world.users["xingqing"].user_permissions.add(*Permission.objects.filter(content_type=ct))


def _admin_page(client: Client, url: str) -> tuple[dict, object]:
    """The admin form at the URL as a browser would post it, and the form object (None when the
    page does not open)."""
    response = client.get(url)
    if response.status_code != 200 or not response.context or "adminform" not in response.context:
        return {}, None
    model_name = response.context["opts"].model_name
    fields = writes.form_fields(response.content.decode(), f"{model_name}_form")
    return fields, response.context["adminform"].form


def _admin_reference(label: str, name: str, side: Side) -> str:
    """The value naming the side's record (or a place in its county) in the model's field."""
    model_field = _model(label)._meta.get_field(name)
    if getattr(model_field, "geom_type", None):
        return writes.point(side).transform(3857, clone=True).json  # the admin map draws in 3857
    record = side.objects[model_field.related_model._meta.label_lower]
    return str(getattr(record, model_field.target_field.attname))


def _check_admin_references(label: str, form, declared: tuple[str, ...]) -> None:
    """The form names no county's record in a field the walk does not know of."""
    from django import forms
    from django.contrib.gis.forms import GeometryField

    world_labels = set(WORLD_LABELS)
    found = {
        name
        for name, f in form.fields.items()
        if isinstance(f, GeometryField)
        or (
            isinstance(f, forms.ModelChoiceField)
            and not isinstance(f, forms.ModelMultipleChoiceField)
            and f.queryset.model._meta.label_lower in world_labels
        )
    }
    unset = {name for (model, name) in writes.ADMIN_UNSET if model == label}
    assert found - unset == set(declared), (
        f"{label}: the form's reference fields {sorted(found)}; declare them in "
        f"writes.ADMIN_REFS or writes.ADMIN_UNSET (now {sorted(declared)}, unset {sorted(unset)})"
    )


def _admin_body(case: WriteCase, world: World, client: Client, target, refs: dict) -> dict:
    """What the admin view is posted: my record's form as shown (or the add form filled with my
    records), the fields of `refs` naming that side's record; a list action selects `target`."""
    e = case.endpoint
    name = case.view.rsplit(".", 1)[-1]
    if name == "delete_view":
        return {"post": "yes"}
    if name == "user_change_password":
        return dict(writes.ADMIN_PASSWORD)
    if name == "changelist_view":
        return {"action": case.ref, "_selected_action": str(target.pk), "index": "0", "post": "yes"}
    if name == "change_view":
        mine = world.mine.objects.get(e.model) or world.shared[e.model]
        body, form = _admin_page(client, _url(e, str(mine.pk)))
        declared = writes.ADMIN_REFS.get(e.model, {}).get("change", ())
    else:
        body, form = _admin_page(client, e.path)
        body.update(writes.ADMIN_ADD.get(e.model, dict)())
        declared = writes.ADMIN_REFS.get(e.model, {}).get("add", ())
        body.update({r: _admin_reference(e.model, r, world.mine) for r in declared})
    if form is not None and case.kind == "reference":
        _check_admin_references(e.model, form, declared)
    body.update({r: _admin_reference(e.model, r, side) for r, side in refs.items()})
    return body


def _recipe(case: WriteCase) -> writes.Recipe | None:
    return writes.RECIPES.get((case.view, case.method))


def _prepare(case: WriteCase, world: World) -> None:
    recipe = _recipe(case)
    if recipe is not None and recipe.prepare is not None:
        for side in (world.theirs, world.mine):
            recipe.prepare(side, case.ref)


def _body(case: WriteCase, world: World, client: Client, side: Side, target=None, ref=None):
    """(body, encoding) of the case written to the side's records; `ref`, a side, names that
    side's record in the case's reference field."""
    if case.endpoint.kind == "admin":
        refs = {case.ref: ref} if ref is not None and case.kind == "reference" else {}
        return _admin_body(case, world, client, target, refs), "form"
    recipe = _recipe(case)
    body = recipe.body(side)
    if ref is not None:
        body.update(recipe.refs[case.ref](ref))
    return body, recipe.encoding


def _assert_unchanged(before: dict, world: World, what: str, may_grow=()) -> None:
    changes = _changes(before, _snapshot(world), may_grow)
    assert not changes, f"{what} changed the database:\n" + "\n".join(changes)


def _sent(body: dict) -> tuple[str, ...]:
    """What a write sent, which its answer may echo."""
    return tuple(_values(body).values())


def _check_object(case: WriteCase, world: World) -> None:
    e = case.endpoint
    client = world.client("xingqing")
    theirs = world.theirs.objects.get(e.model)
    target = theirs if theirs is not None else world.shared.get(e.model)
    assert target is not None, f"give the world a {e.model} to write to"
    mine = world.mine.objects.get(e.model) if theirs is not None else None
    missing = _missing_pk(_model(e.model))
    for granted in (False, True):
        _prepare(case, world)
        body, encoding = _body(case, world, client, world.theirs, target)
        before = _snapshot(world)
        their = _send(client, case.method, _url(e, str(target.pk)), body, encoding)
        absent = _send(client, case.method, _url(e, missing), body, encoding)
        _assert_unchanged(before, world, f"{case.id} on their {e.model}")
        assert_clean([their, absent], world, echoed=(_admin_link(target), *_sent(body)))
        assert their.status in (403, 404), f"{case.id}: their {e.model} answered {their.status}"
        assert (their.status, _normalised(their, str(target.pk))) == (
            absent.status,
            _normalised(absent, missing),
        ), f"{case.id} answers differently from a missing {e.model}"
        control = None
        if mine is not None:
            body, encoding = _body(case, world, client, world.mine, mine)
            control = _send(client, case.method, _url(e, str(mine.pk)), body, encoding)
            assert control.status != 404, f"{case.id}: my own {e.model} is not found"
            if their.status == 403:
                assert control.status == 403, f"{case.id}: 403 for theirs, {control.status} mine"
            assert (
                _succeeded(control, e.kind)
                or control.status == 403
                or _deletion_refused(case, control)
            ), (
                f"{case.id}: the write on my {e.model} answered {control.status}: "
                f"{control.body[:300]}"
            )
        if granted or e.kind != "admin" or (control is not None and control.status != 403):
            return
        _grant(world, e.model)


def _check_action(case: WriteCase, world: World) -> None:
    e = case.endpoint
    client = world.client("xingqing")
    theirs = world.theirs.objects.get(e.model) or world.shared[e.model]
    missing = type(theirs)(pk=_missing_pk(_model(e.model)))
    for granted in (False, True):
        their_body = _body(case, world, client, world.theirs, theirs)[0]
        absent_body = _body(case, world, client, world.theirs, missing)[0]
        before = _snapshot(world)
        their = _send(client, "post", e.path, their_body, "form")
        absent = _send(client, "post", e.path, absent_body, "form")
        _assert_unchanged(before, world, f"{case.id} on their {e.model}")
        assert_clean([their, absent], world)
        # The pk is in the body only: the pages are compared as they are.
        assert (their.status, _as_is(their)) == (absent.status, _as_is(absent)), (
            f"{case.id} answers differently from a missing {e.model}"
        )
        if not granted:
            _grant(world, e.model)


class _Absent:
    """A record that does not exist: its pk, and any field a reference reads, is a missing pk."""

    def __init__(self, model: type[models.Model]):
        pk = _missing_pk(model)
        self.pk = int(pk) if pk == MISSING_INT_PK else pk

    def __getattr__(self, name: str):
        return self.pk


class _Missing:
    """The other side's twin in which every record is missing."""

    def __init__(self, side: Side):
        self.objects = {label: _Absent(type(obj)) for label, obj in side.objects.items()}


def _names_a_place(case: WriteCase) -> bool:
    if case.endpoint.kind == "admin":
        model_field = _model(case.endpoint.model)._meta.get_field(case.ref)
        return bool(getattr(model_field, "geom_type", None)) or (
            model_field.related_model is Region
        )
    return case.ref in _recipe(case).places


def _values(body, path: str = "") -> dict[str, str]:
    """Every scalar of a (nested) body by its path."""
    if isinstance(body, dict):
        items = body.items()
    elif isinstance(body, list):
        items = enumerate(body)
    else:
        return {path: str(body)}
    return {p: v for k, item in items for p, v in _values(item, f"{path}/{k}").items()}


def _blotted(page: Fetched, values: list[str]) -> str:
    """The answer with the values the request named blotted out (where they stand alone)."""
    text = _as_is(page)
    for value in values:
        text = re.sub(rf"(?<![\w.-]){re.escape(value)}(?![\w.-])", "<named>", text)
    return text


def _check_reference(case: WriteCase, world: World) -> None:
    e = case.endpoint
    client = world.client("xingqing")
    mine = world.mine.objects.get(e.model) if e.detail else None
    url = _url(e, str(mine.pk)) if e.detail else e.path
    recipe = _recipe(case)
    creates = recipe.creates if recipe else ()
    for granted in (False, True):
        _prepare(case, world)
        body, encoding = _body(case, world, client, world.mine, mine, ref=world.theirs)
        before = _snapshot(world)
        page = _send(client, case.method, url, body, encoding)
        _assert_unchanged(before, world, f"{case.id} naming their {case.ref}", creates)
        assert_clean([page], world, echoed=_sent(body))
        assert creates or _refused(page, e.kind), (
            f"{case.id}: naming their {case.ref} answered {page.status}, not a refusal: "
            f"{page.body[:300]}"
        )
        if not creates and not _names_a_place(case):
            # Refused like a record that does not exist: the refusal tells nothing of theirs.
            twin, _ = _body(case, world, client, world.mine, mine, ref=_Missing(world.theirs))
            before = _snapshot(world)
            absent = _send(client, case.method, url, twin, encoding)
            _assert_unchanged(before, world, f"{case.id} naming a missing {case.ref}")
            named, missing = _values(body), _values(twin)
            # Both pages lose both values, wherever they stand alone (a pk of 1 is everywhere).
            values = [v for k, v in named.items() if missing.get(k) != v]
            values += [v for k, v in missing.items() if named.get(k) != v]
            assert (page.status, _blotted(page, values)) == (
                absent.status,
                _blotted(absent, values),
            ), f"{case.id}: naming their {case.ref} answers differently from naming a missing one"
        body, encoding = _body(case, world, client, world.mine, mine, ref=world.mine)
        control = _send(client, case.method, url, body, encoding)
        if control.status == 403 and e.kind == "admin" and not granted:
            _grant(world, e.model)
            continue
        if recipe is not None and recipe.above_county:
            assert control.status == 403, f"{case.id}: a county user's own write: {control.status}"
            return
        assert _succeeded(control, e.kind), (
            f"{case.id}: the same body naming my {case.ref} answered {control.status}: "
            f"{control.body[:300]}"
        )
        return


def _check_refused(case: WriteCase, world: World) -> None:
    e = case.endpoint
    client = world.client("xingqing")
    for granted in (False, True):
        assert client.get(e.path).status_code == 403, (
            f"the county user may open {e.path} now: name the form's references in "
            "writes.ADMIN_REFS (and its own fields in writes.ADMIN_ADD)"
        )
        before = _snapshot(world)
        page = _send(client, "post", e.path, {}, "form")
        _assert_unchanged(before, world, case.id)
        assert page.status == 403, f"{case.id} answered {page.status}"
        if not granted:
            _grant(world, e.model)


CHECKS = {
    "object": _check_object,
    "reference": _check_reference,
    "action": _check_action,
    "refused": _check_refused,
}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            c,
            id=c.id,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_WRITE_LEAKS[c.id])]
            if c.id in KNOWN_WRITE_LEAKS
            else [],
        )
        for c in WRITE_CASES
    ],
)
def test_write_changes_nothing_of_the_neighbouring_county(case: WriteCase, world: World):
    CHECKS[case.kind](case, world)


@pytest.mark.parametrize("endpoint", METHOD_BLIND_READS, ids=lambda e: f"{e.path} [{e.model}]")
def test_method_blind_reads_write_nothing(endpoint: Endpoint, world: World):
    """The views of writes.READS check no method: a POST reads as a GET would (or is a 405)."""
    client = world.client("xingqing")
    url, echoed = endpoint.path, ()
    if endpoint.detail:
        model = _model(endpoint.model)
        target = world.theirs.objects.get(endpoint.model) if _scoped(model) else None
        target = target or world.shared.get(endpoint.model) or world.mine.objects[endpoint.model]
        url, echoed = _url(endpoint, str(target.pk)), (_admin_link(target),)
    expected = answer(client, "get", url).status
    before = _snapshot(world)
    page = answer(client, "post", url)
    _assert_unchanged(before, world, f"POST {url}")
    assert_clean([page], world, echoed)
    assert page.status in (expected, 405), f"POST {url}: {page.status}, GET {expected}"


def test_every_write_is_a_case_or_allowed():
    """A new write endpoint fails here until the walk writes to it or it is allowed, with why."""
    assert not UNCOVERED_WRITES, (
        "writes the walk does not make: give each a recipe in tests/leaks/writes.py (RECIPES, or "
        "the admin's ADMIN_WRITES) or allow it there with the reason:\n"
        + "\n".join(UNCOVERED_WRITES)
    )
    views = {e.view for e in ENDPOINTS if e.writes}
    assert set(writes.ALLOWED) | set(writes.READS) | set(writes.PUBLIC) <= views, (
        "allowed views no route answers"
    )
    written = {w for e in ENDPOINTS for w in e.writes}
    stale = {(view, method) for view, method in writes.RECIPES} - {(v, m) for m, v in written}
    assert not stale, f"recipes for writes no route accepts: {stale}"
    labels = {m._meta.label_lower for m in _admin_models()}
    assert set(writes.ADMIN_REFS) | set(writes.ADMIN_ADD) <= labels, "forms of no admin"
    ids = {c.id for c in WRITE_CASES}
    assert WRITE_CASES and len(ids) == len(WRITE_CASES)
    assert set(KNOWN_WRITE_LEAKS) <= ids, "known leaks of cases that are gone"


def test_the_write_walk_reaches_every_kind_of_write():
    """The walk itself: the writes named in the issue, and every admin model's forms, are cases."""
    ids = {c.id for c in WRITE_CASES}
    for path in ("/patrol/api/plans/{pk}/routes/", "/patrol/api/plans/{pk}/reoptimise/",
                 "/api/equipment/{pk}/inspections/", "/response/api/incidents/{pk}/dispatch/"):  # fmt: skip
        assert f"POST {path} [object]" in ids, path
    assert "PATCH /patrol/api/candidates/{pk}/ [object]" in ids
    assert "POST /api/equipment/ [reference use_unit]" in ids
    for model in _admin_models():
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert f"POST {base}{PK}/change/ [object]" in ids, base
        assert f"POST {base}{PK}/delete/ [object]" in ids, base
        assert any(i.startswith(f"POST {base}add/ [") for i in ids), base
        assert any(i.startswith(f"POST {base} [action") for i in ids), base
