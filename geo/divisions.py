"""Facts about GB/T 2260 division codes that do not need boundaries: levels and code arithmetic.

A six-digit code is province (2 digits), city (2) and county (2); a division's *prefix* is the
leading digits every division inside it shares ('' for the nation), and a jurisdiction is a prefix.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    NATIONAL = "national", _("全国")
    PROVINCE = "province", _("省级")
    CITY = "city", _("市级")
    COUNTY = "county", _("县级")


# The regions whose codes a prefix of this many digits tells apart.
LEVEL_OF_WIDTH = {2: Level.PROVINCE, 4: Level.CITY, 6: Level.COUNTY}

# One-character abbreviations used on licence plates and use-registration certificates.
PROVINCE_ABBREVIATIONS = {
    "11": "京", "12": "津", "13": "冀", "14": "晋", "15": "蒙", "21": "辽", "22": "吉", "23": "黑",
    "31": "沪", "32": "苏", "33": "浙", "34": "皖", "35": "闽", "36": "赣", "37": "鲁", "41": "豫",
    "42": "鄂", "43": "湘", "44": "粤", "45": "桂", "46": "琼", "50": "渝", "51": "川", "52": "贵",
    "53": "云", "54": "藏", "61": "陕", "62": "甘", "63": "青", "64": "宁", "65": "新",
    "71": "台", "81": "港", "82": "澳",
}  # fmt: skip


def code_prefix(code: str, level: str) -> str:
    """The leading digits of a GB/T 2260 code that every division inside it shares."""
    return {Level.NATIONAL: "", Level.PROVINCE: code[:2], Level.CITY: code[:4]}.get(level, code)


def child_width(prefix: str) -> int:
    """Code digits of the regions one level below a prefix: provinces, cities, counties; a county
    (six digits) is its own single region."""
    return 2 if not prefix else 4 if len(prefix) < 4 else 6


def child_level(prefix: str) -> Level:
    """The level of the regions one level below a prefix (a county's: county, itself)."""
    return LEVEL_OF_WIDTH[child_width(prefix)]
