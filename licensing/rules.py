"""The licensing rule tables kept as data (licensing/data/*.csv): licence-number formats, the
scope grades a licence of each kind may cover, and the statutory time limit of each step."""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import chinese_calendar

DATA = Path(__file__).resolve().parent / "data"
ANY_CODE = "0000"  # an inspection body's approval: not tied to a catalogue entry


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


@dataclass(frozen=True)
class NumberFormat:
    kind: str
    pattern: re.Pattern
    example: str
    verified: bool
    source: str


@cache
def number_formats() -> dict[str, NumberFormat]:
    return {
        row["kind"]: NumberFormat(
            row["kind"],
            re.compile(row["pattern"]),
            row["example"],
            row["verified"] == "true",
            row["source"],
        )  # fmt: skip
        for row in _rows("number_formats.csv")
    }


def number_problem(kind: str, number: str) -> str:
    """Why a licence number does not fit its kind's published format ('' when it does)."""
    fmt = number_formats().get(kind)
    if fmt is None:
        return f"未知许可类别 {kind} / unknown licence kind"
    if fmt.pattern.fullmatch(number):
        return ""
    return f"许可证编号格式应如 {fmt.example} / the number should look like {fmt.example}"


@dataclass(frozen=True)
class Grade:
    kind: str
    code: str
    grade: str
    label_zh: str
    label_en: str

    @property
    def key(self) -> str:
        return f"{self.code}:{self.grade}"

    @property
    def label(self) -> str:
        return f"{self.label_zh} / {self.label_en}"


@cache
def grades() -> tuple[Grade, ...]:
    return tuple(
        Grade(r["kind"], r["code"], r["grade"], r["label_zh"], r["label_en"])
        for r in _rows("scope_grades.csv")
    )


def grades_of(kind: str) -> tuple[Grade, ...]:
    return tuple(g for g in grades() if g.kind == kind)


def scope_problems(kind: str, scope: list[dict]) -> list[str]:
    """What is wrong with a scope asked for a licence of this kind (empty: nothing)."""
    if not scope:
        return ["许可范围不能为空 / the scope may not be empty"]
    allowed = {(g.code, g.grade) for g in grades_of(kind)}
    problems = []
    for item in scope:
        pair = (str(item.get("code", "")), str(item.get("grade", "")))
        if pair not in allowed:
            problems.append(
                f"{pair[0]} {pair[1]} 不在{kind}许可的范围表中 / not a scope of a {kind} licence"
            )
    return problems


def parse_scope(keys: list[str]) -> list[dict]:
    """Form values "code:grade" as scope items."""
    items = []
    for key in keys:
        code, _, grade = key.partition(":")
        items.append({"code": code.strip(), "grade": grade.strip()})
    return items


@dataclass(frozen=True)
class TimeLimit:
    step: str
    days: int
    working_days: bool
    who: str
    source: str


@cache
def time_limits() -> dict[str, TimeLimit]:
    return {
        r["step"]: TimeLimit(
            r["step"], int(r["days"]), r["working_days"] == "true", r["who"], r["source"]
        )  # fmt: skip
        for r in _rows("time_limits.csv")
    }


def is_working_day(day: dt.date) -> bool:
    """A working day in China: not a public holiday, and a weekend day only when worked in a
    holiday's place (the State Council's yearly schedule, as chinesecalendar carries it). Past
    the last year it carries (published each November), Monday to Friday."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def due_on(step: str, started: dt.date) -> dt.date | None:
    """The last day of a step begun that day; None for a step with no limit (a final state)."""
    limit = time_limits().get(step)
    if limit is None:
        return None
    if not limit.working_days:
        return started + dt.timedelta(days=limit.days)
    day, left = started, limit.days
    while left:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            left -= 1
    return day
