"""The supervisory-inspection pages: the findings (devices registered without a required
supervisory inspection), an inspection body's page (what it sent, what was accepted and refused)
and the manufacturing-stage view (boilers, tank trucks, cranes: maker, supervisor, products)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import TemplateHTMLRenderer
from rest_framework.response import Response

from accounts import policy
from accounts.models import Role
from accounts.tokens import current_token
from geo.offline import add_outline, map_fragment, map_text, offline_map, region_outline
from licensing.models import LicenceKind
from licensing.reads import Validity, licence_rows
from registry.models import Equipment, Unit, UnitRole

from . import rules
from .models import FeedBatch, FeedRecord, RecordStatus, Stage, SupervisoryInspection, own_body

PAGE = 50
# The manufacturing stage the issue watches first: boilers, tank trucks, cranes.
MANUFACTURING = {
    "1000": "锅炉 / boilers",
    "2220": "汽车罐车 / tank trucks",
    "4000": "起重机械 / cranes",
}
MAP_POINTS = 500  # past this the map shows the first ones; the table has them all


def bodies(user):
    """The inspection bodies whose page the user may open: a body's own people (its members, its
    feed account) their body alone; any other inspector or enterprise account none; everyone else
    the bodies of their jurisdiction."""
    scoped = Unit.objects.visible_to(user).with_role(UnitRole.INSPECTION)
    body = own_body(user)
    if body is not None:
        return Unit.objects.with_role(UnitRole.INSPECTION).filter(pk=body)
    if getattr(user, "role", None) in (Role.INSPECTOR, Role.ENTERPRISE) and not user.is_superuser:
        return scoped.none()
    return scoped


@login_required
@require_GET
def index(request):
    """Registered devices of the jurisdiction missing a required supervisory inspection."""
    stage = request.GET.get("stage", "")
    stage = stage if stage in Stage.values else ""
    devices = Equipment.objects.visible_to(request.user).select_related(
        "variety", "region", "use_unit"
    )
    missing = rules.missing(devices, stage or None).order_by("region_id", "device_code", "pk")
    page = Paginator(missing, PAGE).get_page(request.GET.get("page"))
    rows = [(d, [Stage(s).label for s in rules.missing_stages(d)]) for d in page]
    return render(request, "inspections/index.html", {
        "page": page, "rows": rows, "stage": stage, "stages": Stage.choices,
        "bodies": bodies(request.user).filter(feed_batches__isnull=False).distinct()
        .order_by("name")[:50],
    })  # fmt: skip


class BodyPage(GenericAPIView):
    """An inspection body's page: its feed account, the batches it sent and each record's fate
    (the records about devices of the reader's jurisdiction, and its refused ones)."""

    model = Unit
    renderer_classes = [TemplateHTMLRenderer]
    template_name = "inspections/body.html"
    filter_backends: list = []
    pagination_class = None

    def get_queryset(self):
        return bodies(self.request.user)

    def get(self, request, pk: int) -> Response:
        body = get_object_or_404(self.get_queryset(), pk=pk)
        user = request.user
        status = request.query_params.get("status", "")
        status = status if status in RecordStatus.values else ""
        sent = FeedRecord.objects.visible_to(user).filter(body=body)
        records = sent.filter(status=status) if status else sent
        records = records.select_related("batch").order_by(
            "-batch__received_at", "-batch_id", "position"
        )
        account = getattr(body, "feed_account", None)
        # The key's expiry is the administrator's business (they issue and revoke it).
        administers = policy.may(user, policy.Action.ADMINISTER)
        return Response({
            "object": body,
            "account": account,
            "token": current_token(account.user) if account and administers else None,
            "batches": FeedBatch.objects.visible_to(user).filter(body=body)[:20],
            "totals": sent.aggregate(**{s: Count("pk", filter=Q(status=s)) for s in RecordStatus.values}),
            "page": Paginator(records, PAGE).get_page(request.query_params.get("page")),
            "status": status,
            "statuses": RecordStatus.choices,
            "supervised": SupervisoryInspection.objects.visible_to(user).filter(body=body)
            .select_related("equipment").order_by("-inspected_on", "-pk")[:20],
        })  # fmt: skip


body_page = login_required(BodyPage.as_view())


@login_required
@require_GET
def manufacturing(request):
    """Boilers, tank trucks or cranes of the jurisdiction by maker: how many, supervised at
    manufacture by whom, how many lack it; one maker's products on a map."""
    kind = request.GET.get("kind", "1000")
    kind = kind if kind in MANUFACTURING else "1000"
    prefix = kind.rstrip("0")
    devices = Equipment.objects.visible_to(request.user).filter(variety__code__startswith=prefix)
    made = Q(supervisory_inspections__stage=Stage.MANUFACTURE)
    makers = (
        devices.values("manufacturer_id", "manufacturer__name")
        .annotate(
            products=Count("pk", distinct=True),
            required=Count("pk", filter=rules.covers(Stage.MANUFACTURE), distinct=True),
            supervised=Count("pk", filter=made & Q(supervisory_inspections__conclusion__in=rules.PASSING), distinct=True),
        )
        .order_by("-products", "manufacturer__name")
    )  # fmt: skip
    bodies: dict[int | None, set[str]] = {}
    for maker, name in (
        SupervisoryInspection.objects.filter(equipment__in=devices, stage=Stage.MANUFACTURE)
        .values_list("equipment__manufacturer_id", "body__name").distinct()
    ):  # fmt: skip
        bodies.setdefault(maker, set()).add(name)
    makers = list(makers)
    licences = _manufacture_licences(request.user, [m["manufacturer_id"] for m in makers], prefix)
    makers = [
        {**m, "lacking": max(m["required"] - m["supervised"], 0),
         "bodies": sorted(bodies.get(m["manufacturer_id"], ())),
         "licences": licences.get(m["manufacturer_id"], [])}
        for m in makers
    ]  # fmt: skip
    maker = request.GET.get("maker", "")
    products, the_map = None, None
    if maker.isascii() and maker.isdigit() and int(maker) < 2**31:
        products = (
            devices.filter(manufacturer_id=int(maker))
            .select_related("variety", "use_unit", "region", "manufacturer")
            .prefetch_related("supervisory_inspections__body")
            .order_by("region_id", "device_code", "pk")
        )
        the_map = _products_map(list(products[:MAP_POINTS]), request.user)
    return render(request, "inspections/manufacturing.html", {
        "kind": kind, "kinds": MANUFACTURING.items(), "makers": makers, "maker": maker,
        "products": products, "map": the_map,
    })  # fmt: skip


def _manufacture_licences(user, makers: list[int | None], prefix: str) -> dict[int, list[dict]]:
    """Each maker's manufacture licences whose scope reaches the kind, as the licence register
    shows them to this user (scoped like it: a maker licensed elsewhere shows none here)."""
    rows = (
        licence_rows(user, timezone.localdate())
        .filter(kind=LicenceKind.MANUFACTURE, unit_id__in=[m for m in makers if m], scope__code__startswith=prefix)
        .values("unit_id", "pk", "number", "validity")
        .distinct()
        .order_by("unit_id", "number")
    )  # fmt: skip
    found: dict[int, list[dict]] = {}
    labels = Validity.labels()
    for row in rows:
        found.setdefault(row["unit_id"], []).append({**row, "label": labels[row["validity"]]})
    return found


def _products_map(products: list[Equipment], user) -> dict | None:
    """The devices a maker's products became, over the reader's jurisdiction outline."""
    import folium

    m = offline_map(zoom_start=8, control_scale=True, jquery=False)
    prefix = user.jurisdiction_prefix or ""
    outline = region_outline(prefix.ljust(6, "0")) if prefix else None
    if outline:
        m.fit_bounds(
            add_outline(m, outline[1], name=outline[0], weight=1.5, fillOpacity=0.08).get_bounds()
        )
    points = [p for p in products if p.location is not None and not p.location.empty]
    for device in points:
        folium.CircleMarker(
            (device.location.y, device.location.x), radius=6, color="#2166ac", fill=True,
            fill_opacity=0.85, tooltip=map_text(f"{device.device_code} {device.use_unit.name}"),
        ).add_to(m)  # fmt: skip
    if points and not outline:
        ys = [p.location.y for p in points]
        xs = [p.location.x for p in points]
        m.fit_bounds([[min(ys), min(xs)], [max(ys), max(xs)]])
    return map_fragment(m)
