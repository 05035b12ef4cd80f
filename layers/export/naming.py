"""Download names: region, layer, date and coordinate system, Chinese allowed; and the header that
carries such a name to a browser (RFC 6266 with an RFC 5987 UTF-8 parameter)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from urllib.parse import quote

from geo.models import Region

from .options import LAYER_TITLES, Format, Target

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


def content_disposition(filename: str, fallback: str | None = None) -> str:
    """`attachment` with an ASCII `filename` and, when the name is not ASCII, a UTF-8 `filename*`."""
    ascii_name = fallback or filename
    ascii_name = unicodedata.normalize("NFKD", ascii_name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9!#$&+.^_`|~ ()-]", "_", ascii_name) or "export"
    header = f'attachment; filename="{ascii_name}"'
    if ascii_name != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header
