"""Safe intake of uploaded files: stored under a generated name, recognised from the content.

An upload's bytes are written to a fresh directory under the private import root (see
`limits.import_root`), named by a random token; the user's file name is kept only as a label and
never reaches a path. The format is then recognised from the bytes against an allow-list (CSV,
XLSX, GeoJSON, GeoPackage, zipped Shapefile); the name's extension is only a hint, and when it
disagrees the content wins and a warning says so. Archives are checked from their central
directory before anything is extracted; a Shapefile's parts are extracted under fixed names.
Anything refused leaves nothing behind. See docs/import.md.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import errno
import io
import json
import re
import secrets
import shutil
import sqlite3
import stat
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from registry.validators import ERROR, Finding

from .errors import IntakeError, notice, refuse
from .limits import MIB, import_root, limit

FIELD = "file"
CHUNK = MIB
HEAD = 64 * 1024

FORMATS = ("csv", "xlsx", "geojson", "gpkg", "shp")
# The file each format is read from, inside the upload's directory.
SOURCE_NAMES = {
    "csv": "source.csv",
    "xlsx": "source.xlsx",
    "geojson": "source.geojson",
    "gpkg": "source.gpkg",
    "shp": "layer.shp",
}
RECEIVED = "received"  # the bytes as uploaded, until recognised
META = "upload.json"
EXTENSION_HINTS = {
    ".csv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".zip": "shp",
}
# Text encodings tried in order. GBK is a subset of GB18030: a file that decodes as GBK is reported
# as GBK (what Excel on a Chinese Windows writes), the rest of GB18030 as GB18030.
TEXT_ENCODINGS = ("utf-8", "gbk", "gb18030")
CSV_DELIMITERS = ",;\t|"
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
GEOJSON_TYPE = re.compile(r'"type"\s*:\s*"(FeatureCollection|Feature)"')

SQLITE_MAGIC = b"SQLite format 3\x00"
# GeoPackage application_id at offset 68: 'GPKG' since 1.2, 'GP10' / 'GP11' before.
GPKG_APPLICATION_IDS = {b"GPKG", b"GP10", b"GP11"}
GPKG_LAYER_TYPES = ("features", "attributes")
# Schema text that could make GDAL (or SQLite) reach beyond the file.
EXTERNAL_MARKERS = re.compile(
    r"://|/vsi|virtualogr|load_extension|\bogr_\w+\s*\(|\battach\b", re.IGNORECASE
)

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
ARCHIVE_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf",
                  b"Rar!")  # fmt: skip
ARCHIVE_SUFFIXES = {".zip", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar", ".kmz"}
# Checked only past this size: small parts (a .prj, [Content_Types].xml) compress far beyond any
# sensible ratio and are harmless.
RATIO_FLOOR_BYTES = MIB
SHP_REQUIRED = (".shp", ".shx", ".dbf")
SHP_OPTIONAL = (".prj", ".cpg")
# Sidecars GIS programs leave next to a Shapefile: not extracted, never read.
SHP_IGNORED = {".sbn", ".sbx", ".qix", ".qmd", ".xml", ".fix", ".aih", ".ain", ".atx", ".idx"}
ZIP_JUNK = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|Thumbs\.db$|desktop\.ini$)", re.IGNORECASE)
PRJ_KEYWORDS = ("GEOGCS[", "PROJCS[", "GEOGCRS[", "PROJCRS[", "COMPD_CS[", "GEODCRS[")
# .cpg contents accepted, and the code page GDAL is then told.
CPG_ENCODINGS = {
    "UTF-8": "UTF-8", "UTF8": "UTF-8", "65001": "UTF-8",
    "GBK": "GBK", "CP936": "GBK", "936": "GBK", "GB2312": "GBK",
    "GB18030": "GB18030", "54936": "GB18030",
    "ISO-8859-1": "ISO-8859-1", "LATIN1": "ISO-8859-1", "1252": "CP1252", "CP1252": "CP1252",
    "ASCII": "ASCII", "US-ASCII": "ASCII",
}  # fmt: skip
TOKEN = re.compile(r"[0-9a-f]{32}")
# What a write fails with when the disk (or the quota, or the size allowed to a file) is full.
STORAGE_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# Rows of a UTF-8 file that are not UTF-8, named one by one up to this many.
BAD_ROWS_SHOWN = 50
# A lone invalid byte decoded with surrogateescape: how a non-UTF-8 row shows itself.
NOT_UTF8 = re.compile("[\udc80-\udcff]")
# Any character of three UTF-8 bytes or more (CJK among them): evidence that a row is UTF-8. A
# GBK row almost never decodes as UTF-8 with one; two-byte sequences it sometimes does.
WIDE = re.compile("[\u0800-\uffff\U00010000-\U0010ffff]")
# Chinese characters a row needs to count as UTF-8 inside a file that is mostly not.
STRONG_UTF8 = 3


class StorageFull(Exception):
    """The server's disk is full: the upload is not stored (HTTP 507), and nothing of it is left."""

    message = (
        "服务器存储空间已满，文件未保存，请稍后重试或联系管理员 / The server's storage is full: the "
        "file was not stored; try again later or tell your administrator"
    )

    def __init__(self):
        super().__init__(self.message)


STORAGE_FULL_RULE = "upload.storage_full"


def storage_full(error: BaseException) -> bool:
    """Whether `error` says the disk is full, ours or an OSError from anywhere on the way."""
    return isinstance(error, StorageFull) or (
        isinstance(error, OSError) and error.errno in STORAGE_FULL
    )


@dataclass(frozen=True)
class StoredUpload:
    """An accepted upload: where its bytes are, what they are, and what the user was warned of."""

    token: str
    format: str
    size: int
    original_name: str  # a label for pages and reports, never part of a path
    encoding: str | None = None  # CSV: the codec to read with; Shapefile: the .cpg's code page
    delimiter: str | None = None  # CSV
    notices: tuple[Finding, ...] = field(default=())

    @property
    def directory(self) -> Path:
        return import_root() / self.token

    @property
    def path(self) -> Path:
        return self.directory / SOURCE_NAMES[self.format]


def store_upload(
    data: bytes | bytearray | memoryview | IO[bytes], original_name: str
) -> StoredUpload:
    """Store uploaded bytes under a generated name and recognise their format from the content."""
    token = secrets.token_hex(16)
    directory = import_root() / token
    import_root().mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.mkdir(mode=0o700)
    try:
        size = _write(data, directory / RECEIVED)
        upload = _recognise(token, directory, size, original_name)
        (directory / META).write_text(json.dumps(_meta(upload), ensure_ascii=False))
        return upload
    except OSError as error:
        shutil.rmtree(directory, ignore_errors=True)
        if error.errno in STORAGE_FULL:
            raise StorageFull from error
        raise
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def load_upload(token: str) -> StoredUpload:
    """An upload stored earlier, by its token (a later request: dry run, then commit)."""
    if not TOKEN.fullmatch(token or ""):
        refuse("upload", "upload.unknown", "没有这个上传文件 / No such upload")
    try:
        meta = json.loads((import_root() / token / META).read_text())
    except FileNotFoundError:
        refuse("upload", "upload.unknown", "没有这个上传文件 / No such upload")
    meta["notices"] = tuple(Finding(**n) for n in meta["notices"])
    return StoredUpload(**meta)


def discard_upload(upload: StoredUpload) -> None:
    shutil.rmtree(upload.directory, ignore_errors=True)


def _meta(upload: StoredUpload) -> dict[str, Any]:
    meta = asdict(upload)
    meta["notices"] = [asdict(n) for n in upload.notices]
    return meta


# --------------------------------------------------------------------------- storing


def _write(data: bytes | bytearray | memoryview | IO[bytes], path: Path) -> int:
    with open(path, "xb") as out:
        return copy_upload(data, out)


def copy_upload(data: bytes | bytearray | memoryview | IO[bytes], out: IO[bytes]) -> int:
    """Copy an upload's bytes to `out` within the size limit; returns how many were written."""
    maximum = limit("IMPORT_MAX_UPLOAD_BYTES")
    size = 0
    try:
        for chunk in _chunks(data):
            size += len(chunk)
            if size > maximum:
                refuse(
                    FIELD,
                    "upload.too_large",
                    f"文件超过 {maximum // MIB} MB / The file is larger than {maximum // MIB} MB",
                    "拆分后分批导入 / Split it and import the parts one after another",
                )
            out.write(chunk)
        out.flush()  # a full disk may only say so when the buffer goes out
    except OSError as error:
        if error.errno in STORAGE_FULL:
            raise StorageFull from error
        raise
    if size == 0:
        refuse(FIELD, "upload.empty", "文件是空的 / The file is empty")
    return size


def _chunks(data: bytes | bytearray | memoryview | IO[bytes]):
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data)
        for start in range(0, len(view), CHUNK):
            yield view[start : start + CHUNK]
        return
    if hasattr(data, "chunks"):  # Django's UploadedFile
        yield from data.chunks(CHUNK)
        return
    while chunk := data.read(CHUNK):
        yield chunk


# --------------------------------------------------------------------------- recognising


def _recognise(token: str, directory: Path, size: int, original_name: str) -> StoredUpload:
    received = directory / RECEIVED
    with open(received, "rb") as f:
        head = f.read(HEAD)
    details: dict[str, Any] = {}
    if head.startswith(ZIP_MAGICS):
        kind, details = _recognise_archive(received, directory)
    elif head.startswith(SQLITE_MAGIC):
        kind, details = _recognise_geopackage(received, head)
    else:
        kind, details = _recognise_text(received, size)
    if kind != "shp":
        received.rename(directory / SOURCE_NAMES[kind])
    else:
        received.unlink()
    notices = (*details.pop("notices", ()), *_name_notices(original_name, kind))
    return StoredUpload(token=token, format=kind, size=size, original_name=original_name,
                        notices=tuple(notices), **details)  # fmt: skip


def _name_notices(original_name: str, kind: str) -> list[Finding]:
    suffix = PurePosixPath(original_name.replace("\\", "/")).suffix.lower()
    hint = EXTENSION_HINTS.get(suffix)
    if hint == kind or (hint == "shp" and kind == "shp"):
        return []
    return [
        notice(
            FIELD,
            "upload.name_mismatch",
            f"文件名 “{original_name}” 与内容不符，按内容读作 {kind.upper()} / The name "
            f"“{original_name}” does not match the content, which is read as {kind.upper()}",
        )
    ]


def _recognise_text(path: Path, size: int) -> tuple[str, dict[str, Any]]:
    encoding, text_head = _text_encoding(path)
    start = text_head.lstrip()[:1]
    if start == "<":
        refuse(FIELD, "upload.format", "不接受 XML/HTML 文件（如 VRT、KML、GML）/ XML and HTML "
               "files (VRT, KML, GML …) are not accepted", _FORMATS_SUGGESTION)  # fmt: skip
    if start == "{":
        return _recognise_geojson(size, encoding, text_head), {}
    if start == "[":
        refuse(FIELD, "upload.format", "不接受 JSON 数组 / A JSON array is not accepted",
               _FORMATS_SUGGESTION)  # fmt: skip
    return "csv", {"encoding": encoding, "delimiter": _delimiter(text_head)}


_FORMATS_SUGGESTION = (
    "请上传 CSV、XLSX、GeoJSON、GeoPackage 或压缩的 Shapefile / Upload CSV, XLSX, GeoJSON, "
    "GeoPackage or a zipped Shapefile"
)


def _text_encoding(path: Path) -> tuple[str, str]:
    """The codec that decodes the whole file strictly into text without control characters."""
    with open(path, "rb") as f:
        bom = f.read(4)
    if bom.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        refuse(FIELD, "upload.encoding", "不接受 UTF-16 文本 / UTF-16 text is not accepted",
               "另存为 UTF-8 或 GBK 编码的 CSV / Save it as CSV in UTF-8 or GBK")  # fmt: skip
    declared = bom.startswith(codecs.BOM_UTF8)
    candidates = ("utf-8-sig",) if declared else TEXT_ENCODINGS
    for encoding in candidates:
        head = _decode(path, encoding)
        if head is not None:
            return encoding, head
        if encoding.startswith("utf-8"):
            # Before GBK gets a chance to read UTF-8 rows as mojibake: is this UTF-8 with bad rows?
            _refuse_mixed_rows(path, declared)
    refuse(FIELD, "upload.format", "无法识别的文件：不是 UTF-8、GBK 或 GB18030 文本，也不是"
           "支持的格式 / Unrecognised file: neither UTF-8, GBK or GB18030 text nor a supported "
           "format", _FORMATS_SUGGESTION)  # fmt: skip


def _refuse_mixed_rows(path: Path, declared: bool) -> None:
    """Refuse, row by row, a file whose rows are in two encodings, whichever it mostly is: read
    as GBK, UTF-8 rows become mojibake; read as UTF-8, GBK rows would not decode. A file is UTF-8
    if it says so with a BOM or more of its rows are UTF-8 with Chinese text than not; then its
    non-UTF-8 rows are named. Otherwise it is GBK or GB18030 (tried next), and a row that is
    UTF-8 with three or more Chinese characters is named: a GBK row is valid UTF-8 with that many
    by accident almost never (none in 10⁶ random GB2312 strings)."""
    bad: list[tuple[int, str]] = []
    utf8: list[int] = []
    bad_count = utf8_rows = strong_count = 0
    with open(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        delimiter = _delimiter(text.readline())
        text.seek(0)
        try:
            # Rows as csv counts them (a quoted cell may span lines): the numbers the user's
            # spreadsheet shows, the header being row 1.
            for number, cells in enumerate(csv.reader(text, delimiter=delimiter), start=1):
                line = "\x1f".join(cells)
                if NOT_UTF8.search(line):
                    bad_count += 1
                    if len(bad) < BAD_ROWS_SHOWN:
                        bad.append((number, line))
                    continue
                wide = len(WIDE.findall(line))
                utf8_rows += wide > 0
                if wide >= STRONG_UTF8:
                    strong_count += 1
                    if len(utf8) < BAD_ROWS_SHOWN:
                        utf8.append(number)
        except csv.Error:
            return  # not CSV enough to tell: the other encodings, then the reader, will say
    if not bad_count:
        return
    if declared or utf8_rows > bad_count:
        findings = [_not_utf8_row(number, line) for number, line in bad]
        more, what = bad_count - len(bad), "不是 UTF-8 / are not UTF-8"
    elif strong_count:
        findings = [_utf8_row(number) for number in utf8]
        more, what = strong_count - len(utf8), "是 UTF-8 / are UTF-8"
    else:
        return
    if more:
        zh, en = what.split(" / ")
        findings.append(
            Finding(FIELD, "csv.row_encoding", f"另有 {more} 行{zh} / {more} more rows {en}", ERROR)
        )
    raise IntakeError(findings)


def _utf8_row(number: int) -> Finding:
    return Finding(
        FIELD,
        "csv.row_encoding",
        f"第 {number} 行是 UTF-8 编码，而文件其余各行不是（GBK？）/ Row {number} is UTF-8 while "
        "the rest of the file is not (GBK?)",
        ERROR,
        "把整个文件另存为 UTF-8 后重新上传 / Save the whole file as UTF-8 and upload it again",
    )


def _not_utf8_row(number: int, line: str) -> Finding:
    # The row as GB18030 reads it, shortened: enough for the user to find it in their file.
    shown = line.encode("utf-8", errors="surrogateescape").decode("gb18030", errors="replace")
    shown = shown.replace("\x1f", ",")
    shown = shown if len(shown) <= 40 else shown[:39] + "…"
    return Finding(
        FIELD,
        "csv.row_encoding",
        f"第 {number} 行不是 UTF-8 编码（按 GBK 读作 “{shown}”）/ Row {number} is not UTF-8 "
        f"(read as GBK it says “{shown}”)",
        ERROR,
        "把整个文件另存为 UTF-8 后重新上传 / Save the whole file as UTF-8 and upload it again",
    )


def _decode(path: Path, encoding: str) -> str | None:
    """The first HEAD characters, if the whole file decodes cleanly; else None."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    head: list[str] = []
    kept = 0
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                text = decoder.decode(chunk)
                if CONTROL_CHARACTERS.search(text):
                    return None
                if kept < HEAD:
                    head.append(text[: HEAD - kept])
                    kept += len(head[-1])
            if CONTROL_CHARACTERS.search(decoder.decode(b"", final=True)):
                return None
    except UnicodeDecodeError:
        return None
    return "".join(head)


def _delimiter(head: str) -> str:
    """The candidate found most often in the header line; a comma when none is. (csv.Sniffer
    guesses from every line and is thrown by blank or ragged ones.)"""
    header = next((line for line in head.splitlines() if line.strip()), "")
    header = re.sub(r'"[^"]*"', "", header)  # quoted names may hold any character
    counts = {d: header.count(d) for d in CSV_DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _recognise_geojson(size: int, encoding: str, head: str) -> str:
    """A first look; the reader vets the whole document before GDAL opens it (readers.py)."""
    if encoding not in ("utf-8", "utf-8-sig"):
        refuse(FIELD, "geojson.encoding", "GeoJSON 必须是 UTF-8 编码 / GeoJSON must be UTF-8")
    maximum = limit("IMPORT_MAX_GEOJSON_BYTES")
    if size > maximum:
        refuse(FIELD, "geojson.too_large", f"GeoJSON 文件超过 {maximum // MIB} MB / The GeoJSON "
               f"file is larger than {maximum // MIB} MB",
               "大文件请用 GeoPackage / Send large layers as GeoPackage")  # fmt: skip
    if not GEOJSON_TYPE.search(head):
        refuse(FIELD, "geojson.type", "JSON 不是 GeoJSON 要素集合或要素 / The JSON is not a "
               "GeoJSON FeatureCollection or Feature", _FORMATS_SUGGESTION)  # fmt: skip
    return "geojson"


def _recognise_geopackage(path: Path, head: bytes) -> tuple[str, dict[str, Any]]:
    if head[68:72] not in GPKG_APPLICATION_IDS:
        refuse(FIELD, "gpkg.application_id", "SQLite 文件不是 GeoPackage / The SQLite file is "
               "not a GeoPackage", _FORMATS_SUGGESTION)  # fmt: skip
    # immutable=1: SQLite neither writes nor looks for journal files next to it.
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            schema = db.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
            contents = db.execute("SELECT table_name, data_type FROM gpkg_contents").fetchall()
    except sqlite3.DatabaseError as error:
        refuse(
            FIELD, "gpkg.damaged", f"GeoPackage 无法读取 / The GeoPackage cannot be read: {error}"
        )
    for kind, name, sql in schema:
        text = sql or ""
        virtual = text.upper().startswith("CREATE VIRTUAL TABLE")
        if kind == "view" or (virtual and "USING RTREE" not in text.upper()):
            refuse(FIELD, "gpkg.view", f"GeoPackage 含视图或虚拟表 “{name}”，不接受 / The "
                   f"GeoPackage holds a view or virtual table “{name}”: not accepted",
                   "导出为只含要素表的 GeoPackage / Export the data as plain feature tables")  # fmt: skip
        if EXTERNAL_MARKERS.search(text):
            refuse(FIELD, "gpkg.external", f"GeoPackage 的 “{name}” 引用外部资源 / “{name}” in "
                   "the GeoPackage refers to an external resource")  # fmt: skip
    layers = [str(name) for name, kind in contents if kind in GPKG_LAYER_TYPES]
    if not layers:
        refuse(FIELD, "gpkg.no_layer", "GeoPackage 中没有要素表或属性表 / The GeoPackage holds "
               "no feature or attribute table")  # fmt: skip
    if len(layers) == 1:
        return "gpkg", {}
    # Accepted: the user picks one (the job's `layer`); the suggestion lists what may be picked.
    return "gpkg", {"notices": [layer_choice_notice(layers)]}


LAYERS_RULE = "gpkg.layers"


def layer_choice_notice(layers: list[str]) -> Finding:
    """The notice of a file with several layers: which they are, and that one must be chosen."""
    names = ", ".join(layers)
    return notice(
        "layer",
        LAYERS_RULE,
        f"文件有 {len(layers)} 个图层，请在列映射中选择一个：{names} / The file holds "
        f"{len(layers)} layers; choose one with the mapping: {names}",
        names,
    )


# --------------------------------------------------------------------------- archives


def _recognise_archive(path: Path, directory: Path) -> tuple[str, dict[str, Any]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        refuse(FIELD, "zip.damaged", f"压缩包损坏 / The zip archive is damaged: {error}")
    with archive:
        members = _check_archive(archive)
        names = {m.filename for m in members}
        if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
            _check_workbook(archive, members)
            return "xlsx", {}
        return "shp", _extract_shapefile(archive, members, directory)


def _check_archive(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Every member, checked from the central directory before a byte is extracted."""
    members = archive.infolist()
    if len(members) > limit("IMPORT_ZIP_MAX_MEMBERS"):
        refuse(FIELD, "zip.members", f"压缩包内文件过多（{len(members)} 个）/ The archive holds too "
               f"many files ({len(members)})")  # fmt: skip
    total = compressed = 0
    for member in members:
        _check_member_name(member.filename)
        # Unix file type bits; 0 (no type) is what most writers set for a plain file.
        kind = stat.S_IFMT(member.external_attr >> 16)
        if member.create_system == 3 and kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            refuse(FIELD, "zip.link", f"压缩包含链接或特殊文件 “{member.filename}” / The archive "
                   f"holds a link or special file “{member.filename}”")  # fmt: skip
        if member.flag_bits & 0x1:
            refuse(
                FIELD, "zip.encrypted", "不接受加密的压缩包 / Encrypted archives are not accepted"
            )
        _check_ratio(member.file_size, member.compress_size)
        total += member.file_size
        compressed += member.compress_size
    if total > limit("IMPORT_ZIP_MAX_UNCOMPRESSED_BYTES"):
        refuse(FIELD, "zip.too_large", f"解压后超过 {limit('IMPORT_ZIP_MAX_UNCOMPRESSED_BYTES') // MIB}"
               f" MB / Uncompressed, the archive exceeds "
               f"{limit('IMPORT_ZIP_MAX_UNCOMPRESSED_BYTES') // MIB} MB")  # fmt: skip
    _check_ratio(total, compressed)
    files = [m for m in members if not m.is_dir()]
    for member in files:
        _check_not_archive(archive, member)
    return files


def _check_member_name(name: str) -> None:
    posix = name.replace("\\", "/")
    parts = PurePosixPath(posix).parts
    if (
        posix.startswith("/")
        or re.match(r"[A-Za-z]:", posix)
        or ".." in parts
        or "\x00" in name
        or not parts
    ):
        refuse(FIELD, "zip.path", f"压缩包内路径不安全 “{name}” / Unsafe path in the archive: "
               f"“{name}”")  # fmt: skip


def _check_ratio(size: int, compressed: int) -> None:
    ratio = limit("IMPORT_ZIP_MAX_RATIO")
    if size >= RATIO_FLOOR_BYTES and size > ratio * max(compressed, 1):
        refuse(FIELD, "zip.ratio", f"压缩比超过 {ratio}:1，疑为压缩炸弹 / Compression ratio above "
               f"{ratio}:1: refused as a possible zip bomb")  # fmt: skip


def _check_not_archive(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    nested = PurePosixPath(member.filename).suffix.lower() in ARCHIVE_SUFFIXES
    if not nested and member.file_size:
        with archive.open(member) as f:
            nested = f.read(8).startswith(ARCHIVE_MAGICS)
    if nested:
        refuse(FIELD, "zip.nested", f"不接受嵌套的压缩包 “{member.filename}” / Nested archives are "
               f"not accepted: “{member.filename}”", "解压后只上传一层 / Unpack it and upload "
               "the inner archive")  # fmt: skip


def _check_workbook(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> None:
    """Every part of the workbook that XML can read, read by defusedxml up to its root element:
    sheet XML never needs a DTD, and a DTD is how entity expansion (billion laughs) and external
    entities get in. A DTD can only come before the root, in any encoding the part declares, so
    this sees every one however far it is pushed down or however it is spelt."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, iterparse

    for member in members:
        xml_named = member.filename.lower().endswith((".xml", ".rels", ".vml"))
        try:
            with archive.open(member) as f:
                for _ in iterparse(f, events=("start",), forbid_dtd=True):
                    break
        except DefusedXmlException:
            refuse(FIELD, "xlsx.dtd", f"工作簿部件 “{member.filename}” 含 DTD 或实体声明 / The "
                   f"workbook part “{member.filename}” holds a DTD or entity declaration",
                   "用 Excel 或 WPS 另存为新的 XLSX / Save it as a new XLSX from Excel or WPS")  # fmt: skip
        except ParseError as error:
            # Images and other binary parts are not XML and nothing reads them as XML.
            if xml_named:
                refuse(FIELD, "xlsx.xml", f"工作簿部件 “{member.filename}” 不是有效的 XML / The "
                       f"workbook part “{member.filename}” is not valid XML: {error}")  # fmt: skip


def _extract_shapefile(
    archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], directory: Path
) -> dict[str, Any]:
    """Extract one Shapefile's parts under fixed names (layer.shp …): the members' names stay out."""
    parts: dict[str, list[zipfile.ZipInfo]] = {}
    ignored: list[str] = []
    for member in members:
        suffix = PurePosixPath(member.filename).suffix.lower()
        if ZIP_JUNK.search(member.filename):
            continue
        if suffix in SHP_REQUIRED + SHP_OPTIONAL:
            parts.setdefault(suffix, []).append(member)
        else:
            ignored.append(member.filename)
    shp = parts.get(".shp", [])
    if len(shp) != 1:
        refuse(FIELD, "shp.count", "压缩包须恰含一个 .shp 文件（或是 XLSX 工作簿）/ The archive must "
               f"hold exactly one .shp file (or be an XLSX workbook); it holds {len(shp)}",
               _FORMATS_SUGGESTION)  # fmt: skip
    stem = PurePosixPath(shp[0].filename).with_suffix("").as_posix().lower()
    chosen: dict[str, zipfile.ZipInfo] = {}
    for suffix, candidates in parts.items():
        same = [m for m in candidates if PurePosixPath(m.filename).with_suffix("").as_posix().lower() == stem]  # fmt: skip
        if same:
            chosen[suffix] = same[0]
    missing = [s for s in SHP_REQUIRED if s not in chosen]
    if missing:
        refuse(FIELD, "shp.missing_part", f"Shapefile 缺少 {', '.join(missing)} / The Shapefile lacks "
               f"{', '.join(missing)}", "把 .shp、.shx、.dbf（及 .prj、.cpg）一起压缩 / Zip .shp, "
               ".shx and .dbf (with .prj and .cpg) together")  # fmt: skip
    details: dict[str, Any] = {"notices": []}
    for suffix, member in chosen.items():
        with archive.open(member) as f:
            data = f.read() if suffix in SHP_OPTIONAL else None
            if data is None:
                with open(directory / f"layer{suffix}", "xb") as out:
                    shutil.copyfileobj(f, out, CHUNK)
                continue
        if suffix == ".cpg":
            details["encoding"] = _code_page(data)
            (directory / "layer.cpg").write_text(details["encoding"])
        else:
            _check_prj(data)
            (directory / "layer.prj").write_bytes(data)
    if ignored:
        details["notices"].append(notice(FIELD, "shp.ignored", "未读取的文件 / Files not read: "
                                         + ", ".join(ignored[:10])))  # fmt: skip
    return details


def _code_page(data: bytes) -> str:
    text = data[:64].decode("ascii", errors="replace").strip().upper()
    if text not in CPG_ENCODINGS:
        refuse(FIELD, "shp.cpg", f".cpg 中的编码 “{text}” 不受支持 / The encoding “{text}” in the "
               ".cpg is not supported", "用 UTF-8 或 GBK / Use UTF-8 or GBK")  # fmt: skip
    return CPG_ENCODINGS[text]


def _check_prj(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace").strip()
    if (
        len(data) > HEAD
        or not text.upper().startswith(PRJ_KEYWORDS)
        or EXTERNAL_MARKERS.search(text)
    ):
        refuse(FIELD, "shp.prj", "Shapefile 的 .prj 不是坐标系 WKT / The Shapefile's .prj is not a "
               "coordinate system WKT")  # fmt: skip
