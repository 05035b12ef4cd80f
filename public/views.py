"""The public space (/p/, no login, no session) and the signed-in pages around it: QR labels and
the reports the public sent (scoped like every read)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_http_methods, require_safe
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import TemplateHTMLRenderer
from rest_framework.response import Response

from common.errors import DomainError
from common.http import json_errors, private, wants_json
from cylinders.models import Cylinder, CylinderStatus
from registry.models import Equipment, Unit

from . import ratelimit, services
from .card import ENDED, card_of
from .labels import label_of
from .models import PublicReport, ReportKind

# Labels on one unit's sheet; a unit with more prints them from the device pages or in parts.
MAX_UNIT_LABELS = 500
TOO_MANY = "请求过于频繁，请稍后再试 / too many requests: try again in a few minutes"


def _public(response: HttpResponse) -> HttpResponse:
    """Cacheable by any cache: the answer is the same for everyone (nothing per-user in it)."""
    patch_cache_control(response, public=True, max_age=settings.PUBLIC_CACHE_SECONDS)
    return response


def not_found(request: HttpRequest) -> HttpResponse:
    """The one answer to an unknown, revoked or ended token and to an unknown code: the same
    status and page, so neither can be probed for what exists."""
    return render(request, "public/not_found.html", {"kinds": ReportKind.choices}, status=404)


@require_safe
def device(request: HttpRequest, token: str) -> HttpResponse:
    found = services.token_of(token)
    if found is None:
        return not_found(request)
    return _public(render(request, "public/device.html", {"card": card_of(found), "token": token}))


def _code(value: str) -> str:
    # Certificates are written with full-width brackets as often as half-width ones.
    return value.strip().upper().replace("（", "(").replace("）", ")")[:40]


@require_safe
def find(request: HttpRequest) -> HttpResponse:
    """Exact match on a certificate number or a 96333 code; a found device opens its page."""
    code = _code(request.GET.get("code", ""))
    if not code:
        return _public(render(request, "public/find.html"))
    if not ratelimit.hit("lookup", ratelimit.client_of(request)):
        return render(request, "public/find.html", {"error": TOO_MANY}, status=429)
    matches = list(
        Equipment.objects.filter(Q(certificate_number=code) | Q(rescue_id=code))
        .exclude(status__in=ENDED)
        .only("pk", "region_id")[:2]
    )
    # Two devices sharing a 96333 code (two cities' numbering) are not listed: the certificate
    # number tells them apart.
    if len(matches) != 1:
        return not_found(request)
    token = services.ensure_tokens(matches, acting_user=None)[matches[0].pk]
    return redirect("public:device", token=token)


@require_safe
def cylinder(request: HttpRequest) -> HttpResponse:
    """A gas cylinder's public status by the tag on it: may it be filled, its type, status, due
    dates and owning station (an organisation). Tags are often serial, so a lookup counts against
    the client's limit like a device lookup."""
    tag = request.GET.get("tag", "").strip()[:64]
    if not tag:
        return _public(render(request, "public/cylinder.html"))
    if not ratelimit.hit("lookup", ratelimit.client_of(request)):
        return render(request, "public/cylinder.html", {"tag": tag, "error": TOO_MANY}, status=429)
    found = Cylinder.objects.select_related("owner").filter(tag=tag).first()
    today = timezone.localdate()
    if found is None:
        # The public space's one answer to what does not exist (404), with the verdict a filler
        # needs: an unregistered cylinder is not filled.
        return render(request, "public/cylinder.html", {"tag": tag}, status=404)
    context = {"tag": tag, "cylinder": found, "fillable": found.may_be_filled(today),
               "standing": CylinderStatus(found.standing(today)).label}  # fmt: skip
    return _public(render(request, "public/cylinder.html", context))


def _report_errors(request, device, token, error: DomainError, status: int) -> HttpResponse:
    if wants_json(request):
        return json_errors(error.as_dict(), status=status)
    context = {
        "card": card_of(device),
        "token": token,
        "kinds": ReportKind.choices,
        "errors": error.as_dict(),
        "values": request.POST,
    }
    return render(request, "public/report.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
def report(request: HttpRequest, token: str) -> HttpResponse:
    """Report a problem at the device the QR names: an incident on its county's desk."""
    found = services.token_of(token)
    if found is None or found.status in ENDED:
        return not_found(request)
    context = {"card": card_of(found), "token": token, "kinds": ReportKind.choices}
    if request.method != "POST":
        context["values"] = {"kind": request.GET.get("kind", "")}
        return render(request, "public/report.html", context)
    if not ratelimit.hit("report", ratelimit.client_of(request)):
        refusal = services.PublicError([services.Problem("client", "rate_limit", TOO_MANY)])
        return _report_errors(request, found, token, refusal, status=429)
    upload = request.FILES.get("photo")
    limit = settings.PUBLIC_PHOTO_MAX_BYTES
    try:
        if upload is not None:
            services.check_photo_size(upload.size, limit)  # before reading it whole
        received = services.report_problem(
            found,
            kind=request.POST.get("kind", ""),
            phone=request.POST.get("phone", ""),
            description=request.POST.get("description", ""),
            photo=upload.read() if upload is not None else None,
            photo_max_bytes=limit,
        )
    except DomainError as error:
        return _report_errors(request, found, token, error, status=400)
    if wants_json(request):
        return JsonResponse({"received": True, "kind": received.kind}, status=201)
    return redirect("public:report-done", token=token)


@require_safe
def report_done(request: HttpRequest, token: str) -> HttpResponse:
    found = services.token_of(token)
    if found is None:
        return not_found(request)
    return render(request, "public/report_done.html", {"card": card_of(found), "token": token})


# --------------------------------------------------------------------------- signed in


class LabelPage(GenericAPIView):
    """QR labels, printed from the browser: a scoped read (another county's record is a 404);
    a device without a token gets one as its label is printed."""

    renderer_classes = [TemplateHTMLRenderer]
    template_name = "public/labels.html"
    filter_backends: list = []
    pagination_class = None

    def devices(self, obj) -> list[Equipment]:
        raise NotImplementedError

    def get(self, request, pk: int) -> Response:
        obj = get_object_or_404(self.get_queryset(), pk=pk)
        devices = self.devices(obj)
        tokens = services.ensure_tokens(devices, acting_user=request.user)
        labels = [label_of(request, d, tokens[d.pk]) for d in devices]
        return Response({"object": obj, "labels": labels, "limit": MAX_UNIT_LABELS})


class EquipmentLabel(LabelPage):
    model = Equipment

    def get_queryset(self):
        return Equipment.objects.visible_to(self.request.user).select_related("variety")

    def devices(self, obj) -> list[Equipment]:
        return [obj]


class UnitLabels(LabelPage):
    model = Unit

    def get_queryset(self):
        return Unit.objects.visible_to(self.request.user)

    def devices(self, obj) -> list[Equipment]:
        devices = (
            Equipment.objects.visible_to(self.request.user)
            .filter(use_unit=obj)
            .exclude(status__in=ENDED)
            .select_related("variety")
            .order_by("certificate_number", "pk")
        )
        return list(devices[:MAX_UNIT_LABELS])


class ReportList(GenericAPIView):
    """The latest public reports of the jurisdiction, for the desk (numbers masked here)."""

    model = PublicReport
    renderer_classes = [TemplateHTMLRenderer]
    template_name = "public/report_list.html"
    filter_backends: list = []
    pagination_class = None

    def get_queryset(self):
        return PublicReport.objects.visible_to(self.request.user).select_related(
            "equipment__variety", "incident", "region"
        )

    def get(self, request) -> Response:
        return Response({"reports": self.get_queryset()[:100]})


class ReportDetail(GenericAPIView):
    """A public report as the desk reads it: the call-back number masked for roles without
    personal data, and audited where shown in full."""

    model = PublicReport
    renderer_classes = [TemplateHTMLRenderer]
    template_name = "public/report_detail.html"
    filter_backends: list = []
    pagination_class = None

    def get_queryset(self):
        return PublicReport.objects.visible_to(self.request.user).select_related(
            "equipment__variety", "incident", "region"
        )

    def get(self, request, pk: int) -> Response:
        found = get_object_or_404(self.get_queryset(), pk=pk)
        phone = services.read_phone(found, acting_user=request.user)
        return Response({"report": found, "phone": phone})


class ReportPhoto(GenericAPIView):
    """The report's photo, to the desk that may read the report."""

    model = PublicReport
    # A page's renderer for its 404; the photo itself is answered as it is (no API schema).
    renderer_classes = [TemplateHTMLRenderer]
    filter_backends: list = []
    pagination_class = None

    def get_queryset(self):
        return PublicReport.objects.visible_to(self.request.user).exclude(photo=None)

    def get(self, request, pk: int) -> HttpResponse:
        found = get_object_or_404(self.get_queryset(), pk=pk)
        return private(HttpResponse(bytes(found.photo), content_type=found.photo_type))


equipment_label = login_required(EquipmentLabel.as_view())
unit_labels = login_required(UnitLabels.as_view())
report_list = login_required(ReportList.as_view())
report_detail = login_required(ReportDetail.as_view())
report_photo = login_required(ReportPhoto.as_view())
