"""Download names: region, layer, date and coordinate system, Chinese allowed (the header that
carries one to a browser is common.http.content_disposition)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from exports.options import LAYER_TITLES, Format, Target
from geo.models import Region

# Characters no file system or browser accepts in a name, and controls.
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+|\s+')
MAX_NAME_CHARACTERS = 120


def region_label(prefix: str) -> tuple[str, str]:
    """(name, code) of the division a code prefix stands for: 全国 for the empty prefix."""
    if not prefix:
        return "全国", "CN"
    code = prefix.ljust(6, "0")
    name = Region.objects.filter(code=code).values_list("name", flat=True).first()
    return name or prefix, prefix


def _clean(part: str) -> str:
    return _UNSAFE.sub("_", unicodedata.normalize("NFC", part)).strip("._ ")


def export_filename(region: str, layer: str, day: dt.date, target: Target, fmt: Format) -> str:
    """e.g. 兴庆区_逾期未检设备_20260516_CGCS2000-GK35.gpkg"""
    stem = "_".join(
        _clean(part) for part in (region, LAYER_TITLES[layer][0], f"{day:%Y%m%d}", target.label)
    )
    return stem[:MAX_NAME_CHARACTERS] + fmt.extension


def ascii_filename(region_code: str, layer: str, day: dt.date, target: Target, fmt: Format) -> str:
    """The same name in ASCII (codes instead of names), for clients that ignore filename*."""
    return f"{_clean(region_code)}_{layer}_{day:%Y%m%d}_{target.name}{fmt.extension}"
