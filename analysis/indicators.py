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

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

from common.i18n import in_language

COUNT, PERCENT, PER_10K = "count", "%", "per 10,000"
REGISTRY = gettext_lazy("设备登记与生命周期事件")
INSPECTIONS = gettext_lazy("检验记录")
ACCIDENTS = gettext_lazy("事故记录")
SUPERVISION = gettext_lazy("监督检验记录")
LICENSING = gettext_lazy("许可证登记与无证查处记录")


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
    # Today's state: the register keeps no past due dates, so no yearly measure; its trend reads
    # each year's last daily snapshot (analysis.precomputed.snapshot_trend).
    current_only: bool = False

    @property
    def additive(self) -> bool:
        """Child regions' values sum to the parent's (counts do, rates do not)."""
        return self.denominator is None

    @property
    def name(self) -> str:
        """The name in the request's language (both are kept as data)."""
        return in_language(self.name_zh, self.name_en)

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
        gettext_lazy("期末已登记且未注销（含报废）的设备台数"),
        COUNT,
        REGISTRY,
        gettext_lazy("监管对象的规模"),
        "registered",
    ),
    Indicator(
        "in_use",
        "在用设备",
        "Devices in use",
        gettext_lazy("期末在册且未停用的设备台数"),
        COUNT,
        REGISTRY,
        gettext_lazy("万台设备指标的分母"),
        "in_use",
    ),
    Indicator(
        "registrations",
        "新增登记",
        "New registrations",
        gettext_lazy("期内办理使用登记的设备台数"),
        COUNT,
        REGISTRY,
        gettext_lazy("设备增长"),
        "registrations",
    ),
    Indicator(
        "cancellations",
        "注销（报废）",
        "Cancellations",
        gettext_lazy("期内注销或报废的设备台数"),
        COUNT,
        REGISTRY,
        gettext_lazy("设备退出"),
        "cancellations",
    ),
    Indicator(
        "inspection_rate",
        "定期检验率",
        "Periodic inspection rate",
        gettext_lazy(
            "按期检验 ÷ 应检：期内到期（截至今日）且到期时在用的检验到期数，其中在到期日前完成下次检验的占比"
        ),
        PERCENT,
        INSPECTIONS,
        gettext_lazy("检验工作是否按期"),
        "inspected_on_time",
        "due",
        100,
    ),
    Indicator(
        "overdue",
        "超期未检设备",
        "Overdue devices",
        gettext_lazy(
            "今日在用且已过下次检验日期（或检验不合格未复检）的设备台数，与地图的超期图层同一定义"
        ),
        COUNT,
        INSPECTIONS,
        gettext_lazy("需要督促检验的设备"),
        "overdue",
        current_only=True,
    ),
    Indicator(
        "overdue_rate",
        "超期未检率",
        "Overdue share",
        gettext_lazy("超期未检设备 ÷ 今日在用设备"),
        PERCENT,
        INSPECTIONS,
        gettext_lazy("在用设备中超期未检的比例"),
        "overdue",
        "in_use_now",
        100,
        current_only=True,
    ),
    Indicator(
        "supervision_rate",
        "监督检验率",
        "Supervisory inspection rate",
        gettext_lazy("期内登记的须经制造或安装监督检验的设备中，各项均有合格监督检验的比例"),
        PERCENT,
        format_lazy("{}; {}", SUPERVISION, REGISTRY),
        gettext_lazy("未经监督检验不得投入使用"),
        "supervised",
        "supervision_required",
        100,
    ),
    Indicator(
        "use_registration_rate",
        "使用登记率",
        "Use registration rate",
        gettext_lazy(
            "今日在用且须办理使用登记（analysis/data/use_registration.csv）的设备中，"
            "持有使用登记证编号的比例"
        ),
        PERCENT,
        REGISTRY,
        gettext_lazy("在用设备应依法办理使用登记"),
        "use_registered",
        "use_registration_required",
        100,
        current_only=True,
    ),
    Indicator(
        "unlicensed_action_rate",
        "无证生产查处率",
        "Unlicensed activity acted on",
        gettext_lazy(
            "期内发生的无证制造、安装改造修理、充装行为（无证发现）中，监管人员已记录查处措施的比例"
        ),
        PERCENT,
        format_lazy("{}; {}", LICENSING, REGISTRY),
        gettext_lazy("无证生产应依法查处"),
        "unlicensed_acted",
        "unlicensed",
        100,
    ),
    Indicator(
        "accidents",
        "事故起数",
        "Accidents",
        gettext_lazy("期内发生的事故起数"),
        COUNT,
        ACCIDENTS,
        gettext_lazy("安全状况"),
        "accidents",
    ),
    Indicator(
        "deaths",
        "死亡人数",
        "Deaths",
        gettext_lazy("期内事故造成的死亡人数"),
        COUNT,
        ACCIDENTS,
        gettext_lazy("安全状况"),
        "deaths",
    ),
    Indicator(
        "injuries",
        "受伤人数",
        "Injuries",
        gettext_lazy("期内事故造成的受伤人数"),
        COUNT,
        ACCIDENTS,
        gettext_lazy("安全状况"),
        "injuries",
    ),
    Indicator(
        "accidents_per_10k",
        "万台设备事故起数",
        "Accidents per 10,000 devices",
        gettext_lazy("事故起数 ÷ (期末在用设备 ÷ 10,000)"),
        PER_10K,
        format_lazy("{}; {}", ACCIDENTS, REGISTRY),
        gettext_lazy("与规模无关的事故水平，可与全国比较"),
        "accidents",
        "in_use",
        10_000,
    ),
    Indicator(
        "deaths_per_10k",
        "万台设备死亡人数",
        "Deaths per 10,000 devices",
        gettext_lazy("死亡人数 ÷ (期末在用设备 ÷ 10,000)"),
        PER_10K,
        format_lazy("{}; {}", ACCIDENTS, REGISTRY),
        gettext_lazy("国务院安全生产控制指标（全国 2021 年：0.08）"),
        "deaths",
        "in_use",
        10_000,
    ),
)

BY_KEY = {indicator.key: indicator for indicator in INDICATORS}
