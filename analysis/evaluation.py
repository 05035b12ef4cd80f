"""绩效评价 (performance evaluation of supervision and inspection work): the scheme in force for an
area and year, each agency's score with every component, the league table of an area's child
agencies, and the writes (edit a scheme, publish a year) with their audit.

A component scores one rate of analysis/indicators.py, formed from the same measures the desk
counts (analysis/figures.py): full marks at the target, none at the floor, linear between (or all
or nothing, the `threshold` rule). A component whose rate has no value (a zero denominator, or
today's overdue share asked for a past year) is not applicable: the score is the points earned
over the applicable components' weights, scaled to 100, and the answer says which were left out.

Agencies: one per jurisdiction region (accounts.Agency); an agency's score is its region's. The
area is always the user's jurisdiction or a division inside it (desk.parse_area), so a county user
reads their own score only, never a neighbour's components.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext, gettext_lazy

from accounts import audit, policy
from accounts.models import Agency, User
from accounts.policy import Action
from common.errors import DomainError, Problem
from geo.divisions import child_width
from geo.models import Level, Region
from geo.scoping import Scope

from . import desk
from .figures import Figures, Measures, due_dates, period_end, total
from .indicators import BY_KEY, INDICATORS, Indicator
from .models import (
    Direction,
    EvaluationPublication,
    EvaluationScheme,
    SchemeComponent,
    ScoringRule,
)
from .precomputed import computed_at, measures

# Rates only: a count grows with the size of a jurisdiction and cannot be held to one target.
SCORABLE = tuple(i.key for i in INDICATORS if not i.additive)
TOTAL_WEIGHT = Decimal(100)
DUES_PAGE = 50
# What the issue asks for that the registry cannot count yet.
NOT_YET = (
    gettext_lazy("使用登记率：登记信息尚无应登记未登记的设备记录"),
    gettext_lazy(
        "作业人员持证上岗率、重大隐患整改督查率、较大以上事故结案率、无证生产查处率：登记信息尚无对应记录"
    ),
)


def refuse(field: str, rule: str, message: str):
    raise DomainError([Problem(field, rule, message)])


# --------------------------------------------------------------------------- the scheme


def owner_of(prefix: str) -> str:
    """The owner whose scheme an area is scored by first: its province ('' for the nation)."""
    return prefix[:2]


def _latest(owner: str, year: int) -> EvaluationScheme | None:
    return (
        EvaluationScheme.objects.filter(owner=owner, from_year__lte=year)
        .order_by("-from_year", "-version")
        .first()
    )


def scheme_for(
    prefix: str, year: int
) -> tuple[EvaluationScheme | None, EvaluationPublication | None]:
    """The scheme an area's year is scored by, and its publication if the year was published: the
    province's own (published, else latest in force), else the nation's (likewise)."""
    owners = [owner_of(prefix), ""] if prefix else [""]
    for owner in owners:
        published = (
            EvaluationPublication.objects.select_related("scheme")
            .filter(owner=owner, year=year)
            .first()
        )
        if published is not None:
            return published.scheme, published
        scheme = _latest(owner, year)
        if scheme is not None:
            return scheme, None
    return None, None


def components_of(scheme: EvaluationScheme | None) -> list[SchemeComponent]:
    return list(scheme.components.order_by("position")) if scheme else []


def scheme_dict(scheme: EvaluationScheme | None, published: EvaluationPublication | None = None):
    if scheme is None:
        return None
    return {
        "id": scheme.pk,
        "owner": scheme.owner,
        "from_year": scheme.from_year,
        "version": scheme.version,
        "note": scheme.note,
        "changed_at": scheme.changed_at,
        "published": published is not None,
        "components": [
            {
                "indicator": c.indicator,
                "name": BY_KEY[c.indicator].name if c.indicator in BY_KEY else c.indicator,
                "unit": BY_KEY[c.indicator].unit if c.indicator in BY_KEY else "",
                "weight": float(c.weight),
                "target": float(c.target),
                "floor": float(c.floor),
                "direction": c.direction,
                "rule": c.rule,
            }
            for c in components_of(scheme)
        ],
    }


def _number(raw: Any, field: str, problems: list[Problem]) -> Decimal | None:
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        problems.append(Problem(field, "number", gettext("应为数字")))
        return None
    if not value.is_finite() or abs(value) >= Decimal("1e8"):
        problems.append(Problem(field, "number", gettext("应为有限的数字")))
        return None
    return value


def parse_components(raw: Any) -> list[dict[str, Any]]:
    """The components as given (a list of {indicator, weight, target, floor, direction, rule}),
    checked: known rate indicators, each once, weights > 0 summing to 100, the floor on the
    failing side of the target. Every problem at once, each naming its field."""
    problems: list[Problem] = []
    if not isinstance(raw, list) or not raw:
        refuse("components", "required", gettext("至少一个评价项目"))
    if len(raw) > len(SCORABLE):
        refuse("components", "too_many", f"最多 {len(SCORABLE)} 项 / at most {len(SCORABLE)}")
    parsed, seen = [], set()
    for n, item in enumerate(raw):
        at = f"components[{n}]"
        if not isinstance(item, dict):
            problems.append(Problem(at, "invalid", gettext("应为对象")))
            continue
        indicator = str(item.get("indicator", "")).strip()
        if indicator not in SCORABLE:
            problems.append(
                Problem(
                    f"{at}.indicator",
                    "indicator.unknown",
                    f"应为比率指标之一 / one of the rates: {', '.join(SCORABLE)}",
                )
            )
        elif indicator in seen:
            problems.append(Problem(f"{at}.indicator", "duplicate", gettext("重复的指标")))
        seen.add(indicator)
        numbers = {
            name: _number(item.get(name), f"{at}.{name}", problems)
            for name in ("weight", "target", "floor")
        }
        direction = str(item.get("direction", "")).strip()
        if direction not in Direction.values:
            problems.append(
                Problem(f"{at}.direction", "choice", f"应为 / one of {', '.join(Direction.values)}")
            )
        rule = str(item.get("rule") or ScoringRule.LINEAR).strip()
        if rule not in ScoringRule.values:
            problems.append(
                Problem(f"{at}.rule", "choice", f"应为 / one of {', '.join(ScoringRule.values)}")
            )
        weight, target, floor = numbers["weight"], numbers["target"], numbers["floor"]
        if weight is not None and not (0 < weight <= TOTAL_WEIGHT):
            problems.append(Problem(f"{at}.weight", "range", gettext("权重应在 0–100 之间")))
        if None not in (target, floor) and direction in Direction.values:
            wrong = floor >= target if direction == Direction.HIGHER else floor <= target
            if wrong:
                side = "低于" if direction == Direction.HIGHER else "高于"
                problems.append(
                    Problem(
                        f"{at}.floor",
                        "floor.side",
                        f"零分值应{side}目标值 / the floor must be "
                        f"{'below' if direction == Direction.HIGHER else 'above'} the target",
                    )
                )
        parsed.append({"indicator": indicator, **numbers, "direction": direction, "rule": rule})
    weights = [c["weight"] for c in parsed if c["weight"] is not None]
    if len(weights) == len(raw) and sum(weights) != TOTAL_WEIGHT:
        problems.append(
            Problem(
                "components",
                "weights.sum",
                f"权重之和应为 100，现为 {sum(weights)} / weights must sum to 100, not {sum(weights)}",
            )
        )
    if problems:
        raise DomainError(problems)
    return parsed


def owner_for_editor(user: User, raw: str | None) -> str:
    """The scheme an administrator keeps: their own level's (the nation's, or their province's);
    `raw` (a division code, '' the nation) must name it when given."""
    agency = getattr(user, "agency", None)
    national = (
        agency is None
        and user.is_superuser
        or (agency is not None and agency.level == Level.NATIONAL)
    )
    if national:
        own = ""
    elif agency is not None and agency.level == Level.PROVINCE:
        own = agency.code_prefix
    else:
        refuse(
            "region",
            "scheme.level",
            gettext("只有国家或省级管理员可以修改评价方案"),
        )
    if raw is not None and raw.strip() not in ("", own.ljust(6, "0") if own else ""):
        refuse(
            "region",
            "scheme.owner",
            gettext("只能修改本级的评价方案")
            + (f"; use {own.ljust(6, '0')}" if own else "; use '' (national)"),
        )
    return own


@transaction.atomic
def edit_scheme(
    *,
    acting_user: User,
    year: int,
    components: Any,
    note: str = "",
    region: str | None = None,
) -> EvaluationScheme:
    """Set the scheme an owner scores `year` (and later years) by. A scheme no publication uses is
    changed in place; one a published year used is left as it is and a new version is made; a
    published year's own scheme cannot be changed (400 naming `year`). Audited before/after."""
    policy.require(acting_user, Action.EVALUATION_SCHEME)
    owner = owner_for_editor(acting_user, region)
    parsed = parse_components(components)
    if EvaluationPublication.objects.filter(owner=owner, year=year).exists():
        refuse(
            "year",
            "year.published",
            f"{year} 年度已发布，其方案不能修改；请修改 {year + 1} 年起的方案 / {year} is published "
            f"and keeps its scheme; edit the scheme from {year + 1}",
        )
    current = (
        EvaluationScheme.objects.select_for_update()
        .filter(owner=owner, from_year=year)
        .order_by("-version")
        .first()
    )
    before = scheme_dict(current) if current else None
    if current is not None and not current.publications.exists():
        scheme = current
        scheme.components.all().delete()
    else:
        version = (
            EvaluationScheme.objects.filter(owner=owner, from_year=year).aggregate(
                v=Max("version")
            )["v"]
            or 0
        ) + 1
        scheme = EvaluationScheme(owner=owner, from_year=year, version=version)
    scheme.note = (note or "")[:200]
    scheme.changed_by = acting_user
    scheme.save()
    SchemeComponent.objects.bulk_create(
        SchemeComponent(scheme=scheme, position=n, **c) for n, c in enumerate(parsed)
    )
    audit.record(
        acting_user,
        "evaluation.scheme_changed",
        scheme,
        before=_jsonable(before),
        after=_jsonable(scheme_dict(scheme)),
        region_code=owner.ljust(6, "0") if owner else "",
    )
    return scheme


@transaction.atomic
def publish_year(
    *, acting_user: User, year: int, today: dt.date, region: str | None = None
) -> EvaluationPublication:
    """Fix the scheme a finished year was scored by: later edits make new versions instead."""
    policy.require(acting_user, Action.EVALUATION_SCHEME)
    owner = owner_for_editor(acting_user, region)
    if year >= today.year:
        refuse("year", "year.open", gettext("只能发布已结束的年度"))
    if EvaluationPublication.objects.filter(owner=owner, year=year).exists():
        refuse("year", "year.published", f"{year} 年度已发布 / {year} is already published")
    scheme, _ = scheme_for(owner, year)
    if scheme is None:
        refuse("year", "scheme.none", gettext("该年度没有评价方案"))
    publication = EvaluationPublication.objects.create(
        owner=owner, year=year, scheme=scheme, published_by=acting_user
    )
    audit.record(
        acting_user,
        "evaluation.year_published",
        publication,
        after={"owner": owner, "year": year, "scheme": scheme.pk, "version": scheme.version},
        region_code=owner.ljust(6, "0") if owner else "",
    )
    return publication


def _jsonable(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _jsonable(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_jsonable(v) for v in data]
    if isinstance(data, dt.datetime | dt.date):
        return data.isoformat()
    return data


def may_edit(user: Any) -> bool:
    """Whether the page offers the scheme's form: the action, at national or provincial level."""
    if not policy.may(user, Action.EVALUATION_SCHEME):
        return False
    agency = getattr(user, "agency", None)
    if agency is None:
        return bool(user.is_superuser)
    return agency.level in (Level.NATIONAL, Level.PROVINCE)


# --------------------------------------------------------------------------- scoring


def points(component: SchemeComponent, value: float | None) -> float | None:
    """The points a value earns: the weight at or beyond the target, 0 at or beyond the floor,
    linear between (the threshold rule: the weight or 0); None for no value (not applicable)."""
    if value is None:
        return None
    weight, target, floor = float(component.weight), float(component.target), float(component.floor)
    higher = component.direction == Direction.HIGHER
    if (value >= target) if higher else (value <= target):
        return weight
    if component.rule == ScoringRule.THRESHOLD:
        return 0.0
    if (value <= floor) if higher else (value >= floor):
        return 0.0
    share = (value - floor) / (target - floor) if higher else (floor - value) / (floor - target)
    return round(weight * share, 2)


def _traces(indicator: Indicator, prefix: str, year: int, today: dt.date) -> dict[str, str | None]:
    """Where the records behind a component's numerator and denominator are listed (scoped lists:
    the map's layer tables with filters where they count the same rows, else our own)."""
    region = {"region": prefix} if prefix else {}
    current = year == today.year

    def map_list(layer: str, **filters) -> str:
        query = urlencode({**region, **filters})
        return reverse("map-list", args=[layer]) + (f"?{query}" if query else "")

    def dues(**filters) -> str:
        # The desk's `region` is a 6-digit division code; the map's lists take the prefix.
        code = {"region": prefix.ljust(6, "0")} if prefix else {}
        query = urlencode({**code, "year": year, **filters})
        return reverse("analysis:evaluation-dues") + "?" + query

    accidents = map_list(
        "accidents", **{"from": f"{year}-01-01", "to": period_end(year, today).isoformat()}
    )
    in_use_today = map_list("equipment", status="in_use")
    return {
        # The due dates the rate counted, and those met on time.
        "inspection_rate": {"numerator": dues(met="yes"), "denominator": dues()},
        # Today's overdue layer and today's devices in use: the same rows the share counts.
        "overdue_rate": {"numerator": map_list("overdue"), "denominator": in_use_today},
        # The year's accidents; the devices in use only for this year (a past year's end state
        # is counted from the life cycle and has no list of its own).
        "accidents_per_10k": {
            "numerator": accidents,
            "denominator": in_use_today if current else None,
        },
        "deaths_per_10k": {
            "numerator": accidents,
            "denominator": in_use_today if current else None,
        },
    }.get(indicator.key, {"numerator": None, "denominator": None})


def score(
    components: list[SchemeComponent],
    counts: Measures,
    prefix: str,
    year: int,
    today: dt.date,
) -> dict[str, Any]:
    """One agency's score: every component with its value, numerator, denominator, target and
    points; the total over the applicable weights, scaled to 100."""
    items, earned, applicable = [], 0.0, 0.0
    for component in components:
        indicator = BY_KEY.get(component.indicator)
        if indicator is None:
            continue
        numerator = getattr(counts, indicator.numerator)
        denominator = getattr(counts, indicator.denominator) if indicator.denominator else None
        value = indicator.value(numerator, denominator)
        note = ""
        if indicator.current_only and year != today.year:
            # Today's state says nothing of a past year: the register keeps no past due dates.
            value, numerator, denominator = None, None, None
            note = gettext("仅有今日数据，往年不计")
        elif value is None:
            note = gettext("分母为 0，不计分")
        got = points(component, value)
        if got is not None:
            earned += got
            applicable += float(component.weight)
        items.append(
            {
                "indicator": indicator.key,
                "name": indicator.name,
                "unit": indicator.unit,
                "formula": indicator.formula,
                "weight": float(component.weight),
                "target": float(component.target),
                "floor": float(component.floor),
                "direction": component.direction,
                "rule": component.rule,
                "value": value,
                "numerator": numerator,
                "denominator": denominator,
                "points": got,
                "applicable": got is not None,
                "note": note,
                "trace": _traces(indicator, prefix, year, today),
            }
        )
    return {
        "score": round(earned * 100 / applicable, 2) if applicable else None,
        "earned": round(earned, 2),
        "applicable_weight": applicable,
        "components": items,
    }


def _agency_names(prefixes: list[str]) -> dict[str, str]:
    """The agency of each region (by its code prefix): its name, several joined if several."""
    codes = {p.ljust(6, "0"): p for p in prefixes if p}
    names: dict[str, list[str]] = {}
    rows = Agency.objects.filter(region_id__in=codes).exclude(level=Level.NATIONAL)
    for agency in rows.order_by("name").only("name", "region_id", "level"):
        if agency.code_prefix == codes.get(agency.region_id):
            names.setdefault(codes[agency.region_id], []).append(agency.name)
    return {prefix: "、".join(found) for prefix, found in names.items()}


def league(
    user: User, area: desk.Area, year: int, today: dt.date, figures: Figures | None = None
) -> dict[str, Any]:
    """The area's own score and its child agencies' scores with every component, best first.
    `figures`: the desk's child-region measures when the caller has them (desk.area_figures),
    holding this year among others; else they are counted for the year."""
    scheme, published = scheme_for(area.prefix, year)
    components = components_of(scheme)
    if figures is None:
        figures = measures(Scope(area.prefix), child_width(area.prefix), [year], today)
    children = {
        region.code_prefix: region
        for region in Region.objects.below(area.prefix).only("code", "name", "level")
    }
    prefixes = sorted(set(children) | {p for p in figures if p})
    names = _agency_names([*prefixes, area.prefix])
    rows = []
    for prefix in prefixes:
        region = children.get(prefix)
        counts = figures[prefix][year] if prefix in figures else Measures()
        rows.append(
            {
                "code": region.code if region else prefix.ljust(6, "0"),
                "prefix": prefix,
                "name": region.name if region else prefix,
                "agency": names.get(prefix, ""),
                **score(components, counts, prefix, year, today),
            }
        )
    ranked = sorted(rows, key=lambda r: (r["score"] is None, -(r["score"] or 0), r["code"]))
    rank = 0
    for n, row in enumerate(ranked):
        if row["score"] is not None and (n == 0 or row["score"] != ranked[n - 1]["score"]):
            rank = n + 1
        row["rank"] = rank if row["score"] is not None else None
    own = total(figures, [year])[year]
    return {
        "area": area.as_dict(),
        "breadcrumb": desk.breadcrumb(user, area),
        "year": year,
        "period_end": period_end(year, today).isoformat(),
        "as_of": today.isoformat(),
        "computed_at": computed_at(figures),
        "scheme": scheme_dict(scheme, published),
        "own": {
            **area.as_dict(),
            "agency": names.get(area.prefix, ""),
            **score(components, own, area.prefix, year, today),
        },
        "drillable": len(area.prefix) < 6,
        "agencies": ranked,
        "not_yet": list(NOT_YET),
    }


def dues_page(area: desk.Area, year: int, met: bool | None, page: int, today: dt.date):
    """One page of the due dates the inspection rate counted in the area, with their devices."""
    from registry.models import Equipment

    count, rows = due_dates(
        Scope(area.prefix), year, today, met=met, offset=(page - 1) * DUES_PAGE, limit=DUES_PAGE
    )
    devices = {
        e.pk: e
        for e in Equipment.objects.visible_to(Scope(area.prefix))
        .filter(pk__in=[r[0] for r in rows])
        .select_related("region")
        .only("pk", "device_code", "variety_id", "region__name", "region__code")
    }
    items = []
    for equipment_id, due, met_on in rows:
        device = devices.get(equipment_id)
        items.append(
            {
                "equipment": equipment_id,
                "device_code": device.device_code if device else "",
                "variety": device.variety_id if device else "",
                "region": device.region.name if device else "",
                "due": due,
                "inspected_on": met_on,
                "met": met_on is not None and met_on <= due,
            }
        )
    return {
        "area": area.as_dict(),
        "year": year,
        "met": met,
        "page": page,
        "pages": max(1, -(-count // DUES_PAGE)),
        "count": count,
        "results": items,
    }


# --------------------------------------------------------------------------- parameters


def parse_met(raw: str | None) -> bool | None:
    if raw in (None, ""):
        return None
    if raw in ("yes", "no"):
        return raw == "yes"
    refuse("met", "choice", gettext("应为 yes 或 no"))


def parse_page(raw: str | None) -> int:
    if raw in (None, ""):
        return 1
    raw = raw.strip()
    if raw.isascii() and raw.isdigit() and len(raw) <= 6 and int(raw) >= 1:
        return int(raw)
    refuse("page", "page.range", gettext("页码应为正整数"))


def parse(user: User, params, allowed: tuple[str, ...], today: dt.date) -> dict[str, Any]:
    """The desk's parameters (region, year) and ours (met, page, format), every problem at once."""
    own = {"met": parse_met, "page": parse_page}
    problems: list[Problem] = []
    parsed: dict[str, Any] = {}
    desk_params = {k: v for k, v in params.items() if k not in own and k != "format"}
    try:
        parsed = desk.parse(
            user, desk_params, tuple(a for a in allowed if a not in own and a != "format"), today
        )
    except DomainError as error:
        problems += error.findings
    for name, parser in own.items():
        if name in allowed:
            try:
                parsed[name] = parser(params.get(name))
            except DomainError as error:
                problems += error.findings
    if "format" in allowed:
        fmt = params.get("format") or "csv"
        if fmt not in ("csv", "xlsx"):
            problems.append(Problem("format", "choice", gettext("应为")))
        parsed["format"] = fmt
    if problems:
        raise DomainError(problems)
    return parsed


def parse_year_field(raw: Any, today: dt.date) -> int:
    """The `year` of a write (a number or a string): required, unlike a read's."""
    if raw is None or raw == "" or isinstance(raw, bool):
        refuse("year", "required", gettext("请给出年度"))
    return desk.parse_year(str(raw), today)
