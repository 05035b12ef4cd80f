"""The licensing pages: the jurisdiction's licences, those expiring, the unlicensed findings, the
applications and their steps. Views parse, call licensing.services or a scoped read, render."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import TemplateHTMLRenderer
from rest_framework.response import Response

from accounts import policy
from accounts.models import AuditEntry, Role
from accounts.policy import Action, Allows
from common.errors import DomainError
from registry.models import Equipment, Unit

from . import findings, rules, services
from .models import (
    EXPIRING_DAYS,
    Application,
    ApplicationState,
    FindingAction,
    Licence,
    LicenceKind,
    LicenceStatus,
)

PAGE = 50


def _supervising(user) -> bool:
    return user.role != Role.ENTERPRISE and user.jurisdiction_prefix is not None


@require_safe
@login_required
def index(request):
    """The jurisdiction's licences (an enterprise account: its own), expiring ones, the
    findings' count and the applications with their overdue steps."""
    user, today = request.user, timezone.localdate()
    kind = request.GET.get("kind", "")
    kind = kind if kind in LicenceKind.values else ""
    licences = Licence.objects.visible_to(user).select_related("unit")
    if kind:
        licences = licences.filter(kind=kind)
    page = Paginator(licences.order_by("unit__name", "kind", "pk"), PAGE).get_page(
        request.GET.get("page")
    )
    applications = Application.objects.visible_to(user).select_related("unit")[:PAGE]
    supervising = _supervising(user)
    return render(request, "licensing/index.html", {
        "page": page, "kind": kind, "kinds": LicenceKind.choices, "today": today,
        "rows": [(lic, LicenceStatus(lic.standing(today)).label, lic.standing(today))
                 for lic in page],
        "expiring": Licence.objects.visible_to(user).expiring(today).select_related("unit")[:PAGE]
        if supervising else [],
        "expiring_days": EXPIRING_DAYS,
        "finding_count": len(findings.unlicensed(user, today=today)) if supervising else None,
        "applications": [(a, a.overdue(today)) for a in applications],
        "may_apply": policy.may(user, Action.APPLY_LICENCE),
    })  # fmt: skip


@require_safe
@login_required
def findings_page(request):
    """无证生产 / 无证安装 / 无证充装 in the jurisdiction: device, unit, activity, day, and what
    was done about each."""
    return _findings(request)


def _findings(request, errors: dict | None = None, status: int = 200):
    user, today = request.user, timezone.localdate()
    if not _supervising(user):
        raise PermissionDenied("监管人员查看 / for supervisors")
    found = findings.unlicensed(user, today=today)
    page = Paginator(found, PAGE).get_page(request.GET.get("page") or request.POST.get("page"))
    devices = Equipment.objects.visible_to(user).in_bulk([f.equipment_id for f in page])
    # The maker or installer of a device of the jurisdiction is named even when it sits elsewhere,
    # as on the device's own page; it is linked only when the reader may open it.
    ids = {f.unit_id for f in page}
    names = dict(Unit.objects.filter(pk__in=ids).values_list("pk", "name"))
    visible = set(Unit.objects.visible_to(user).filter(pk__in=ids).values_list("pk", flat=True))
    acted = {}
    for done in FindingAction.objects.visible_to(user).filter(unit_id__in=ids).order_by("pk"):
        acted[done.key] = done  # the latest one shown
    return render(request, "licensing/findings.html", {
        "page": page, "look_back": findings.LOOK_BACK_DAYS, "errors": errors or {},
        "may_act": policy.may(user, Action.DECIDE_LICENCE),
        "rows": [(f, devices.get(f.equipment_id), names.get(f.unit_id), f.unit_id in visible,
                  LicenceKind(f.kind).label, acted.get((f.equipment_id, f.unit_id, f.kind)))
                 for f in page],
    }, status=status)  # fmt: skip


def _id(raw: str | None, field: str, *, required: bool = True) -> int | None:
    raw = (raw or "").strip()
    if not raw and not required:
        return None
    if not (raw.isascii() and raw.isdigit() and int(raw) < 2**31):
        raise services.LicensingError(
            [services.Problem(field, "invalid", _("应为记录编号"))]
        )  # fmt: skip
    return int(raw)


@require_http_methods(["POST"])
@login_required
@policy.writes(Action.DECIDE_LICENCE)
def act_on_finding(request):
    """Record what was done about one finding (查处), posted from the findings page."""
    try:
        kind = request.POST.get("kind", "")
        if kind not in LicenceKind.values:
            raise services.LicensingError([services.Problem("kind", "invalid", _("未知许可类别"))])
        services.record_finding_action(
            equipment_id=_id(request.POST.get("equipment"), "equipment", required=False),
            unit_id=_id(request.POST.get("unit"), "unit"), kind=kind,
            action=request.POST.get("action", ""), acting_user=request.user,
        )  # fmt: skip
    except DomainError as error:
        return _findings(request, errors=error.as_dict(), status=error.status)
    page = request.POST.get("page", "")
    query = f"?page={page}" if page.isascii() and page.isdigit() else ""
    return redirect(reverse("licensing:findings") + query)


class Page(GenericAPIView):
    """One scoped record as an HTML page (another jurisdiction's answers 404)."""

    model: type
    renderer_classes = [TemplateHTMLRenderer]
    filter_backends: list = []
    pagination_class = None

    def get_queryset(self):
        return self.model.objects.visible_to(self.request.user)

    def get(self, request, pk: int) -> Response:
        obj = get_object_or_404(self.get_queryset(), pk=pk)
        return Response({"object": obj, **self.context(obj)})

    def context(self, obj) -> dict:
        return {}


class LicencePage(Page):
    """A licence, its scope and its history (every audited change)."""

    model = Licence
    template_name = "licensing/licence.html"

    def context(self, licence: Licence) -> dict:
        today = timezone.localdate()
        history = (
            AuditEntry.objects.filter(model=Licence._meta.label, object_pk=str(licence.pk))
            .select_related("actor")
            .order_by("at", "pk")
        )
        return {
            "standing": LicenceStatus(licence.standing(today)).label,
            "scope": list(licence.scope.all()),
            "history": history,
            "may_decide": policy.may(self.request.user, Action.DECIDE_LICENCE)
            and licence.status != LicenceStatus.REVOKED,
            "today": today,
        }


class LicenceStatusView(LicencePage):
    """Suspend, revoke or restore a licence from a day on, with reasons (posted from its page)."""

    permission_classes = [IsAuthenticated, Allows(Action.DECIDE_LICENCE)]

    def get(self, request, pk: int):
        obj = get_object_or_404(self.get_queryset(), pk=pk)
        return redirect("licensing:licence", pk=obj.pk)

    def post(self, request, pk: int) -> Response:
        licence = get_object_or_404(self.get_queryset(), pk=pk)
        try:
            services.set_licence_status(
                licence, status=str(request.data.get("status", "")),
                since=_date(request.data.get("since"), "since") or timezone.localdate(),
                reasons=str(request.data.get("reasons", "")), acting_user=request.user,
            )  # fmt: skip
        except DomainError as error:
            licence.refresh_from_db()
            return Response(
                {"object": licence, **self.context(licence), "errors": error.as_dict()},
                status=error.status,
            )
        licence = self.get_queryset().get(pk=licence.pk)
        return Response({"object": licence, **self.context(licence), "done": True})


def _application_context(user, application: Application, **extra) -> dict:
    today = timezone.localdate()
    limit = rules.time_limits().get(application.state)
    return {
        "object": application,
        "steps": [
            (s, services.VERB_LABELS.get(s.verb, s.verb))
            for s in application.steps.select_related("actor")
        ],
        "overdue": application.overdue(today),
        "limit": limit,
        "grades": rules.grades_of(application.kind),
        "chosen": {f"{i['code']}:{i['grade']}" for i in application.scope},
        "may_decide": policy.may(user, Action.DECIDE_LICENCE)
        and application.state in (ApplicationState.SUBMITTED, ApplicationState.UNDER_REVIEW),
        "may_amend": policy.may(user, Action.APPLY_LICENCE)
        and application.state == ApplicationState.CHANGES_REQUESTED,
        "state": application.state,
        "suggested_expiry": today.replace(year=today.year + 4),
        "example": rules.number_formats()[application.kind].example,
        **extra,
    }


class ApplicationPage(Page):
    """An application: where it stands, its time limit, its steps, and the step the reader may take."""

    model = Application
    template_name = "licensing/application.html"

    def get_queryset(self):
        return super().get_queryset().select_related("unit", "licence")

    def get(self, request, pk: int) -> Response:
        obj = get_object_or_404(self.get_queryset(), pk=pk)
        return Response(_application_context(request.user, obj))


class ApplicationStepView(ApplicationPage):
    """A step on an application, posted from its page; a GET shows the page."""

    def get(self, request, pk: int):
        obj = get_object_or_404(self.get_queryset(), pk=pk)
        return redirect("licensing:application", pk=obj.pk)

    def post(self, request, pk: int):
        obj = get_object_or_404(self.get_queryset(), pk=pk)
        try:
            self.take(request, obj)
        except DomainError as error:
            obj.refresh_from_db()
            context = _application_context(request.user, obj, errors=error.as_dict())
            return Response(context, status=error.status)
        # The page as it now stands (its URL is the application's: the form posts there again
        # only if the reader re-submits, and the state machine refuses a step taken twice).
        obj = self.get_queryset().get(pk=obj.pk)
        return Response(_application_context(request.user, obj, done=True))


class AmendApplication(ApplicationStepView):
    permission_classes = [IsAuthenticated, Allows(Action.APPLY_LICENCE)]

    def take(self, request, application: Application) -> None:
        services.amend_application(
            application, scope=rules.parse_scope(request.data.getlist("scope")),
            note=request.data.get("note", ""), acting_user=request.user,
        )  # fmt: skip


def _date(raw: str | None, field: str) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise services.LicensingError(
            [services.Problem(field, "date", "日期格式应为 YYYY-MM-DD / a date as YYYY-MM-DD")]
        ) from None


class DecideApplication(ApplicationStepView):
    permission_classes = [IsAuthenticated, Allows(Action.DECIDE_LICENCE)]

    def take(self, request, application: Application) -> None:
        services.decide_application(
            application, verb=str(request.data.get("verb", "")),
            reasons=request.data.get("reasons", ""), number=request.data.get("number", ""),
            expires_on=_date(request.data.get("expires_on"), "expires_on"),
            acting_user=request.user,
        )  # fmt: skip


@require_http_methods(["GET", "POST"])
@login_required
@policy.writes(Action.APPLY_LICENCE)
def new_application(request):
    """File an application: an enterprise account for its unit, a supervisor for any unit of the
    jurisdiction (by its credit code or name)."""
    user = request.user
    kind = request.POST.get("kind") or request.GET.get("kind") or LicenceKind.MANUFACTURE
    kind = kind if kind in LicenceKind.values else LicenceKind.MANUFACTURE
    own = services.acts_for(user) if user.role == Role.ENTERPRISE else None
    context = {"kinds": LicenceKind.choices, "kind": kind, "grades": rules.grades_of(kind),
               "own": Unit.objects.filter(pk=own).first() if own else None,
               "enterprise": user.role == Role.ENTERPRISE}  # fmt: skip
    if request.method != "POST":
        return render(request, "licensing/new.html", context)
    unit = _applicant(user, own, request.POST.get("unit", ""))
    errors = {}
    if unit is None:
        errors = {"unit": [{"rule": "unit.unknown", "message": "辖区内无此单位 / no such unit in "
                                                                 "your jurisdiction"}]}  # fmt: skip
    else:
        try:
            application = services.file_application(
                unit, kind=kind, scope=rules.parse_scope(request.POST.getlist("scope")),
                note=request.POST.get("note", ""), acting_user=user,
            )  # fmt: skip
            return redirect("licensing:application", pk=application.pk)
        except DomainError as error:
            errors = error.as_dict()
    context.update(errors=errors, unit_text=request.POST.get("unit", "")[:64])
    return render(request, "licensing/new.html", context, status=400)


def _applicant(user, own: int | None, text: str) -> Unit | None:
    if user.role == Role.ENTERPRISE:
        return Unit.objects.filter(pk=own).first() if own else None
    text = text.strip()[:128]
    if not text:
        return None
    units = Unit.objects.visible_to(user)
    return units.filter(credit_code=text.upper()).first() or units.filter(name=text).first()


licence_page = login_required(LicencePage.as_view())
licence_status = login_required(LicenceStatusView.as_view())
application_page = login_required(ApplicationPage.as_view())
amend_application = login_required(AmendApplication.as_view())
decide_application = login_required(DecideApplication.as_view())
