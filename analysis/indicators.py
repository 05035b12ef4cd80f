"""The indicators of the analysis desk, each defined once: the page, the API, the downloads and
docs/analysis.md all read this table.

A module of frozen dataclasses rather than a model: a definition changes with the code that
computes it (analysis/figures.py names the measures), so it is versioned with that code and
reviewed with it; an administrator editing a formula in a table would change the words and not
the computation. Targets and weights, which do change without code (绩效评价), will be data.

Every indicator is a ratio of two additive measures (counts per region that sum over child
regions), or one measure alone: `numerator × scale ÷ denominator`, None where the denominator is
0 (a county with no device has no rate, which is not a rate of 0).
"""

from __future__ import annotations

from dataclasses import dataclass

COUNT, PERCENT, PER_10K = "count", "%", "per 10,000"
REGISTRY = "设备登记与生命周期事件 / equipment register and its life-cycle events"
INSPECTIONS = "检验记录 / inspection records"
ACCIDENTS = "事故记录 / accident records"
SUPERVISION = "监督检验记录 / supervisory inspection records"
LICENSING = "许可证登记与无证查处记录 / licence register and the actions on unlicensed findings"


@dataclass(frozen=True)
class Indicator:
    """One indicator: what it counts, how, from what, and what it means."""

    key: str
    name_zh: str
    name_en: str
    formula: str  # in words, Chinese then English
    unit: str  # COUNT, PERCENT or PER_10K
    source: str
    meaning: str
    numerator: str  # a measure of analysis.figures.Measures
    denominator: str | None = None
    scale: int = 1
    # Current state only: the register keeps no past due dates, so there is no trend.
    current_only: bool = False

    @property
    def additive(self) -> bool:
        """Child regions' values sum to the parent's (counts do, rates do not)."""
        return self.denominator is None

    @property
    def name(self) -> str:
        return f"{self.name_zh} / {self.name_en}"

    def value(self, numerator: int, denominator: int | None) -> float | int | None:
        if self.denominator is None:
            return numerator
        if not denominator:
            return None
        return round(numerator * self.scale / denominator, 4)


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "devices",
        "在册设备",
        "Devices in the register",
        "期末已登记且未注销（含报废）的设备台数 / devices registered by the end of the period "
        "and not cancelled or scrapped by then",
        COUNT,
        REGISTRY,
        "监管对象的规模 / how much equipment the jurisdiction supervises",
        "registered",
    ),
    Indicator(
        "in_use",
        "在用设备",
        "Devices in use",
        "期末在册且未停用的设备台数 / devices in the register at the end of the period and not "
        "suspended then",
        COUNT,
        REGISTRY,
        "万台设备指标的分母 / the base of the per-10,000 rates",
        "in_use",
    ),
    Indicator(
        "registrations",
        "新增登记",
        "New registrations",
        "期内办理使用登记的设备台数 / devices whose use registration falls in the period",
        COUNT,
        REGISTRY,
        "设备增长 / growth of the register",
        "registrations",
    ),
    Indicator(
        "cancellations",
        "注销（报废）",
        "Cancellations",
        "期内注销或报废的设备台数 / devices cancelled or scrapped in the period",
        COUNT,
        REGISTRY,
        "设备退出 / devices leaving the register",
        "cancellations",
    ),
    Indicator(
        "inspection_rate",
        "定期检验率",
        "Periodic inspection rate",
        "按期检验 ÷ 应检：期内到期（截至今日）且到期时在用的检验到期数，其中在到期日前完成下次检验"
        "的占比 / due dates in the period (up to today) of devices in use on that day, and the "
        "share of them met by the next inspection on or before the date",
        PERCENT,
        INSPECTIONS,
        "检验工作是否按期 / whether inspections keep to their dates",
        "inspected_on_time",
        "due",
        100,
    ),
    Indicator(
        "overdue",
        "超期未检设备",
        "Overdue devices",
        "今日在用且已过下次检验日期（或检验不合格未复检）的设备台数，与地图的超期图层同一定义 / "
        "in-use devices past their due date today, or left with none by a failed inspection: "
        "the map's overdue layer",
        COUNT,
        INSPECTIONS,
        "需要督促检验的设备 / devices to chase",
        "overdue",
        current_only=True,
    ),
    Indicator(
        "overdue_rate",
        "超期未检率",
        "Overdue share",
        "超期未检设备 ÷ 今日在用设备 / overdue devices ÷ devices in use today",
        PERCENT,
        INSPECTIONS,
        "在用设备中超期未检的比例 / share of devices in use that are overdue",
        "overdue",
        "in_use_now",
        100,
        current_only=True,
    ),
    Indicator(
        "supervision_rate",
        "监督检验率",
        "Supervisory inspection rate",
        "期内登记的须经制造或安装监督检验的设备中，各项均有合格监督检验的比例 / of the devices "
        "registered in the period that need a supervisory inspection at manufacture or "
        "installation, the share with a passed one of each",
        PERCENT,
        f"{SUPERVISION}; {REGISTRY}",
        "未经监督检验不得投入使用 / no device enters use without its supervisory inspection",
        "supervised",
        "supervision_required",
        100,
    ),
    Indicator(
        "use_registration_rate",
        "使用登记率",
        "Use registration rate",
        "今日在用且须办理使用登记（analysis/data/use_registration.csv）的设备中，持有使用登记证编号的"
        "比例 / of the devices in use today whose kind needs a use registration (the data table), "
        "the share holding a use registration certificate number",
        PERCENT,
        REGISTRY,
        "在用设备应依法办理使用登记 / every device in use must be registered for use",
        "use_registered",
        "use_registration_required",
        100,
        current_only=True,
    ),
    Indicator(
        "unlicensed_action_rate",
        "无证生产查处率",
        "Unlicensed activity acted on",
        "期内发生的无证制造、安装改造修理、充装行为（无证发现）中，监管人员已记录查处措施的比例 / of the "
        "unlicensed manufacture, installation or filling findings whose activity falls in the "
        "period, the share a supervisor recorded an action on",
        PERCENT,
        f"{LICENSING}; {REGISTRY}",
        "无证生产应依法查处 / unlicensed production must be dealt with",
        "unlicensed_acted",
        "unlicensed",
        100,
    ),
    Indicator(
        "accidents",
        "事故起数",
        "Accidents",
        "期内发生的事故起数 / accidents that occurred in the period",
        COUNT,
        ACCIDENTS,
        "安全状况 / the safety record",
        "accidents",
    ),
    Indicator(
        "deaths",
        "死亡人数",
        "Deaths",
        "期内事故造成的死亡人数 / people killed in the period's accidents",
        COUNT,
        ACCIDENTS,
        "安全状况 / the safety record",
        "deaths",
    ),
    Indicator(
        "injuries",
        "受伤人数",
        "Injuries",
        "期内事故造成的受伤人数 / people injured in the period's accidents",
        COUNT,
        ACCIDENTS,
        "安全状况 / the safety record",
        "injuries",
    ),
    Indicator(
        "accidents_per_10k",
        "万台设备事故起数",
        "Accidents per 10,000 devices",
        "事故起数 ÷ (期末在用设备 ÷ 10,000) / accidents ÷ (devices in use at the end of the "
        "period ÷ 10,000)",
        PER_10K,
        f"{ACCIDENTS}; {REGISTRY}",
        "与规模无关的事故水平，可与全国比较 / the accident level regardless of size, comparable "
        "with the nation",
        "accidents",
        "in_use",
        10_000,
    ),
    Indicator(
        "deaths_per_10k",
        "万台设备死亡人数",
        "Deaths per 10,000 devices",
        "死亡人数 ÷ (期末在用设备 ÷ 10,000) / deaths ÷ (devices in use at the end of the period "
        "÷ 10,000)",
        PER_10K,
        f"{ACCIDENTS}; {REGISTRY}",
        "国务院安全生产控制指标 / the State Council's control figure (全国 2021: 0.08)",
        "deaths",
        "in_use",
        10_000,
    ),
)

BY_KEY = {indicator.key: indicator for indicator in INDICATORS}
