"""The cylinder pages: the register's search and the county's violations, a cylinder's chain, a
station's day and its overdue cylinders, and the public status of a cylinder by its tag."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_safe
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import TemplateHTMLRenderer
from rest_framework.response import Response

from accounts import policy
from accounts.policy import Action, Allows
from licensing.models import LicenceStatus
from registry.models import Unit, UnitRole

from . import reads, rules, services
from .models import Cylinder, CylinderStatus, StationToken

KEY_HISTORY = 20  # a station's keys listed on its key page, newest first


def _day(raw: str | None) -> tuple[dt.date, str]:
    """The `day` parameter (today when absent); a message instead of a 500 for a bad one."""
    today = timezone.localdate()
    if not raw:
        return today, ""
    try:
        return dt.date.fromisoformat(raw), ""
    except ValueError:
        return today, gettext("日期 %(raw)s 无法识别，显示今天") % {"raw": raw[:20]}


@require_safe
@login_required
def index(request):
    """Find a cylinder by its tag; the violations of the jurisdiction's stations."""
    tag = request.GET.get("tag", "").strip()[:64]
    if tag and (cylinder := reads.find_cylinder(request.user, tag)) is not None:
        return redirect("cylinders:chain", pk=cylinder.pk)
    rule = request.GET.get("rule", "")
    rule = rule if rule in rules.Rule.values else ""
    violations = reads.violations_for(request.user, rule=rule or None).select_related("station")
    page = Paginator(violations, 50).get_page(request.GET.get("page"))
    return render(request, "cylinders/index.html", {
        "tag": tag, "not_found": bool(tag), "page": page, "rule": rule,
        "rules": rules.Rule.choices,
    })  # fmt: skip


class Page(GenericAPIView):
    """One scoped record rendered as an HTML page (another jurisdiction's answers 404)."""

    model: type
    renderer_classes = [TemplateHTMLRenderer]
    filter_backends: list = []
    pagination_class = None

    def get_queryset(self):
        # The region's name is shown, never its outline: a county's boundary is tens of KB that
        # every request would fetch and parse into a geometry (as the registry's admin defers it).
        return (
            self.model.objects.visible_to(self.request.user)
            .select_related("region")
            .defer("region__boundary")
        )

    def get(self, request, pk: int) -> Response:
        obj = get_object_or_404(self.get_queryset(), pk=pk)
        return Response({"object": obj, **self.context(obj)})


class CylinderChain(Page):
    """Maker → owner → inspections → fillings of one cylinder."""

    model = Cylinder
    template_name = "cylinders/chain.html"

    def get_queryset(self):
        return super().get_queryset().select_related("owner")

    def context(self, cylinder: Cylinder) -> dict:
        chain = reads.chain_of(self.request.user, cylinder)
        today = timezone.localdate()
        return {
            "chain": chain,
            "fillings": [
                (f, chain.stations.get(f.station_id), [rules.label(r) for r in f.violations])
                for f in chain.fillings
            ],  # fmt: skip
            "overdue": cylinder.next_inspection_due < today
            and cylinder.status not in (CylinderStatus.SCRAPPED, CylinderStatus.LOST),
            "past_scrap": cylinder.scrap_on <= today,
        }


class StationPage(Page):
    """A filling station's day: its figures (the kept StationDay figures and two index counts)
    and the first DAY_SHOWN rows of the day's fillings, its overdue cylinders and its latest
    violations, each with a link to its full paged list (StationList); where the cylinders it
    filled in breach were seen last is a page of its own (StationSeen): it probes every such
    cylinder's latest filling, the day page does not wait."""

    model = Unit
    template_name = "cylinders/station.html"

    def context(self, station: Unit) -> dict:
        user = self.request.user
        day, day_error = _day(self.request.query_params.get("day"))
        licence = reads.filling_licence(station.pk, timezone.localdate())
        shown = reads.DAY_SHOWN
        return {
            "is_station": UnitRole.FILLING in station.roles,
            "licence": licence,
            "licence_expired": licence is None
            or licence.standing(timezone.localdate()) != LicenceStatus.VALID,
            "day": day,
            "day_error": day_error,
            "previous": day - dt.timedelta(days=1),
            "next": day + dt.timedelta(days=1),
            "fillings": [
                (f, [rules.label(r) for r in f.violations])
                for f in reads.station_fillings(station, day)[:shown]
            ],  # fmt: skip
            "summary": reads.station_summary(station, day),
            "overdue": reads.overdue_cylinders(station)[:shown],
            "violations": reads.violations_for(user, station=station.pk)[:shown],
            "shown": shown,
            "seen_list": reads.SEEN_LIST,
            # The rows' links to a chain (/cylinders/<pk>/) as prefix + pk: a {% url %} per row
            # was the largest part of the page's rendering (hundreds of reverse() calls).
            "chain_prefix": reverse("cylinders:index"),
        }


class StationList(Page):
    """One of a station's lists in full, LIST_PAGE rows a page, in one of its SORTS (the first is
    the default; an unknown one falls back to it, as an unknown rule does on the index)."""

    model = Unit
    template_name = "cylinders/station_list.html"
    title: tuple[str, str]
    table: str  # the rows' template, shared with the day page
    SORTS: dict[str, str]  # sort parameter → label

    def rows(self, station: Unit, sort: str, day: dt.date):
        raise NotImplementedError

    def context(self, station: Unit) -> dict:
        params = self.request.query_params
        sort = params.get("sort", "")
        sort = sort if sort in self.SORTS else next(iter(self.SORTS))
        day, day_error = _day(params.get("day"))
        page = Paginator(self.rows(station, sort, day), reads.LIST_PAGE).get_page(
            params.get("page")
        )
        return {
            "title": self.title, "table": self.table, "day": day, "day_error": day_error,
            "sort": sort, "sorts": self.SORTS.items(), "page": page, "rows": self.shape(page),
            "chain_prefix": reverse("cylinders:index"),
        }  # fmt: skip

    def shape(self, page) -> list:
        return list(page)


class StationFillings(StationList):
    """A station's fillings of one day, all of them."""

    title = gettext_lazy("当日充装")
    table = "cylinders/_fillings.html"
    SORTS = {"time": gettext_lazy("时间早→晚"), "-time": gettext_lazy("时间晚→早")}

    def rows(self, station, sort, day):
        return reads.station_fillings(station, day, earliest_first=sort == "time")

    def shape(self, page) -> list:
        return [(f, [rules.label(r) for r in f.violations]) for f in page]


class StationOverdue(StationList):
    """A station's overdue cylinders, all of them."""

    title = gettext_lazy("超期未检气瓶")
    table = "cylinders/_overdue.html"
    SORTS = {
        "due": gettext_lazy("超期最久在前"),
        "-due": gettext_lazy("最近到期在前"),
    }

    def rows(self, station, sort, day):
        return reads.overdue_cylinders(station, longest_first=sort == "due")


class StationViolations(StationList):
    """A station's violations, all of them."""

    title = gettext_lazy("违规")
    table = "cylinders/_violations.html"
    SORTS = {"-time": gettext_lazy("最新在前"), "time": gettext_lazy("最早在前")}

    def rows(self, station, sort, day):
        return reads.violations_for(self.request.user, station=station.pk,
                                    newest_first=sort == "-time")  # fmt: skip


class StationSeen(Page):
    """Where the cylinders of a station's latest violations were filled last."""

    model = Unit
    template_name = "cylinders/station_seen.html"

    def context(self, station: Unit) -> dict:
        return {
            "seen": reads.last_seen(self.request.user, station),
            "seen_list": reads.SEEN_LIST,
        }


class StationKeys(Page):
    """A station's machine key for the filling endpoint: a supervisor or administrator of the
    station's region issues one (shown once, in the answer to the POST only; only its digest is
    kept) or revokes it. Audited."""

    model = Unit
    template_name = "cylinders/station_keys.html"
    permission_classes = [IsAuthenticated, Allows(Action.MANAGE_STATION_KEYS)]

    def get(self, request, pk: int) -> Response:
        return self._no_store(super().get(request, pk))

    @staticmethod
    def _no_store(response):
        response["Cache-Control"] = "no-store, private"  # the page may show a credential
        return response

    def context(self, station: Unit, key: str | None = None) -> dict:
        return {
            "is_station": UnitRole.FILLING in station.roles,
            "token": services.current_station_token(station),
            # Its keys, newest first: their dates and state (the key itself is never kept).
            "history": StationToken.objects.filter(station=station).order_by("-created_at")[
                :KEY_HISTORY
            ],
            "key": key,
            "may_manage": policy.may(self.request.user, Action.MANAGE_STATION_KEYS),
            "endpoint": self.request.build_absolute_uri(reverse("cylinders:fillings")),
        }

    def post(self, request, pk: int) -> Response:
        station = get_object_or_404(self.get_queryset(), pk=pk)
        key, errors, status = None, [], 200
        try:
            if request.data.get("action") == "revoke":
                services.revoke_station_tokens(station, acting_user=request.user)
            else:
                key = services.issue_station_token(station, acting_user=request.user)
        except services.CylinderError as error:  # not a filling station: the page says so
            errors, status = error.findings, 400
        # The new key is in this answer only (no session, no redirect carries it): shown once.
        context = {"object": station, **self.context(station, key), "errors": errors}
        return self._no_store(Response(context, status=status))


chain_page = login_required(CylinderChain.as_view())
station_page = login_required(StationPage.as_view())
station_seen_page = login_required(StationSeen.as_view())
station_fillings_page = login_required(StationFillings.as_view())
station_overdue_page = login_required(StationOverdue.as_view())
station_violations_page = login_required(StationViolations.as_view())
station_keys_page = login_required(StationKeys.as_view())
