"""The bounded GDAL read: run as a script in a child process, never imported by the project.

The parent (sandbox.py) starts ``python -I gdal_child.py``, writes one JSON request line to its
stdin (a path inside an upload's directory, the format recognised by intake, an optional layer and
encoding from allow-lists, the limits) and reads an Arrow IPC stream of record batches from its
stdout. On failure the child writes one JSON line ``{"rule", "message"}`` to stderr and exits 3.

Before the file is opened the child caps its own address space (RLIMIT_AS) and CPU time
(RLIMIT_CPU), tells GDAL and PROJ to stay off the network, and, on Linux x86-64 and arm64,
installs a seccomp filter under which socket() fails for every family but AF_UNIX: whatever a
file names, this process cannot open a network connection. It imports nothing of the project (no
Django, no database connection) so that a fault here reaches nothing else.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import platform
import resource
import struct
import sys

# Every option that lets GDAL reach the network or a file the upload names is closed.
GDAL_OPTIONS = {
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".segis-no-network",
    "CPL_VSIL_CURL_ALLOWED_FILENAME": "/segis-no-network",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_CONNECTTIMEOUT": "1",
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_ALLOW_REMOTE_RESOURCE_TO_ACCESS_LOCAL_FILE": "NO",
    "ALLOW_OGR_SQL_FUNCTIONS_FROM_TRIGGER_AND_VIEW": "NO",
    "GDAL_VRT_ENABLE_PYTHON": "NO",
    "GDAL_VRT_ENABLE_RAWRASTERBAND": "NO",
}
# The CRS a GeoJSON may declare in its (pre-RFC 7946) "crs" member: names only, never links.
GEOJSON_CRS_NAMES = {
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
    "EPSG:4326",
    "urn:ogc:def:crs:EPSG::4326",
    "EPSG:4490",
    "urn:ogc:def:crs:EPSG::4490",
}
GEOJSON_CRS_CODES = {4326, 4490}

# seccomp: (audit arch, socket syscall number, bit that marks the x32 ABI on x86-64).
SECCOMP_ARCHES = {"x86_64": (0xC000003E, 41, 0x40000000), "aarch64": (0xC00000B7, 198, None)}
AF_UNIX = 1
EACCES = 13
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000
LD_W_ABS, JEQ_K, JGE_K, RET_K = 0x20, 0x15, 0x35, 0x06


class Refused(Exception):
    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule, self.message = rule, message


def main() -> int:
    request = json.loads(sys.stdin.readline())
    import pyarrow as pa
    import pyogrio

    options = dict(GDAL_OPTIONS)
    if request["format"] != "shp":  # a Shapefile needs its siblings; nothing else does
        options["GDAL_DISABLE_READDIR_ON_OPEN"] = "EMPTY_DIR"
    pyogrio.set_gdal_config_options(options)
    _limit(request["memory_bytes"], request["cpu_seconds"])
    sandboxed = _forbid_network()
    try:
        if request["format"] == "geojson":
            _vet_geojson(request["path"])
        layer, layers = _layer(pyogrio, request)
        # Several layers and none chosen: no rows, only every layer's columns, so the upload is
        # accepted and the user maps the columns of the layer they pick; the rows wait for it.
        chosen = request.get("layer") is not None or len(layers) == 1
        columns = [] if chosen else _all_columns(pyogrio, request["path"], layers)
        with pyogrio.open_arrow(
            request["path"],
            layer=layer,
            encoding=request.get("encoding"),
            batch_size=request["batch_rows"],
            use_pyarrow=True,
            datetime_as_string=True,
        ) as (meta, reader):
            schema = reader.schema.with_metadata({
                b"segis.crs": (meta.get("crs") or "").encode(),
                b"segis.geometry": _geometry_column(reader.schema).encode(),
                b"segis.encoding": (meta.get("encoding") or "").encode(),
                b"segis.layer": (layer or "").encode() if chosen else b"",
                b"segis.layers": json.dumps(layers, ensure_ascii=False).encode(),
                b"segis.columns": json.dumps(columns, ensure_ascii=False).encode(),
                b"segis.sandboxed": b"1" if sandboxed else b"0",
            })  # fmt: skip
            out = pa.ipc.new_stream(sys.stdout.buffer, schema)
            for batch in reader if chosen else ():
                out.write_batch(batch.replace_schema_metadata(schema.metadata))
            out.close()
    except Refused as refused:
        return _fail(refused.rule, refused.message)
    except MemoryError:
        return _fail("read.memory", "读取超出内存限制 / The read ran out of its memory allowance")
    except Exception as error:  # GDAL's own errors: pass the message on, the parent refuses
        # Without our directory: the user needs GDAL's words, not where the server keeps files.
        message = str(error).replace(os.path.dirname(request["path"]) + "/", "")
        return _fail("read.failed", f"文件无法读取 / The file cannot be read: {message}")
    return 0


def _geometry_column(schema) -> str:
    for field in schema:
        if (field.metadata or {}).get(b"ARROW:extension:name") == b"geoarrow.wkb":
            return field.name
    return ""


def _fail(rule: str, message: str) -> int:
    sys.stderr.write("\n" + json.dumps({"rule": rule, "message": message}) + "\n")
    sys.stderr.flush()
    return 3


def _limit(memory_bytes: int, cpu_seconds: int) -> None:
    # Above what the interpreter, Arrow and GDAL already map, so the allowance is for the read.
    with open("/proc/self/statm") as f:
        mapped = int(f.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (mapped + memory_bytes, mapped + memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))


def _forbid_network() -> bool:
    """socket() fails with EACCES for every family but AF_UNIX, for good, in this process."""
    arch = SECCOMP_ARCHES.get(platform.machine())
    if arch is None:
        return False
    audit_arch, socket_nr, x32_bit = arch
    program = [
        (LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (JEQ_K, 1, 0, audit_arch),
        (RET_K, 0, 0, RET_KILL_PROCESS),
        (LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    if x32_bit is not None:
        program.append((JGE_K, 0, 1, x32_bit))
        program.append((RET_K, 0, 0, RET_ERRNO | EACCES))
    program += [
        (JEQ_K, 0, 3, socket_nr),
        (LD_W_ABS, 0, 0, 16),  # seccomp_data.args[0], low half: the address family
        (JEQ_K, 1, 0, AF_UNIX),
        (RET_K, 0, 0, RET_ERRNO | EACCES),
        (RET_K, 0, 0, RET_ALLOW),
    ]
    code = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(code)
    fprog = struct.pack("HxxxxxxP", len(program), ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [
        ctypes.c_int,
        ctypes.c_ulong,
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_ulong,
    ]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        raise Refused(
            "read.sandbox", "无法隔离读取进程 / The reading process could not be isolated"
        )
    fprog_buffer = ctypes.create_string_buffer(fprog)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog_buffer), 0, 0) != 0:
        raise Refused(
            "read.sandbox", "无法隔离读取进程 / The reading process could not be isolated"
        )
    return True


def _vet_geojson(path: str) -> None:
    """The whole document, in Python, before GDAL: a FeatureCollection or Feature whose "crs" (if
    any) is a name from the allow-list. GDAL would resolve any other "crs", links and file names
    included."""
    with open(path, "rb") as f:
        try:
            document = json.loads(f.read().decode("utf-8-sig"))
        except ValueError as error:
            raise Refused(
                "geojson.syntax", f"GeoJSON 语法错误 / GeoJSON syntax error: {error}"
            ) from None
    if not isinstance(document, dict) or document.get("type") not in (
        "FeatureCollection",
        "Feature",
    ):
        raise Refused(
            "geojson.type",
            "不是 GeoJSON 要素集合或要素 / Not a GeoJSON FeatureCollection or Feature",
        )
    if "crs" in document and not _allowed_crs(document["crs"]):
        raise Refused("geojson.crs", "GeoJSON 的 crs 成员只接受 WGS84 或 CGCS2000 的名称，不接受链接 / "
                          "The GeoJSON crs member may only name WGS84 or CGCS2000, never link")  # fmt: skip
    del document
    gc.collect()


def _allowed_crs(crs) -> bool:
    if not isinstance(crs, dict) or not isinstance(crs.get("properties"), dict):
        return False
    properties = crs["properties"]
    if crs.get("type") == "name":
        return properties.get("name") in GEOJSON_CRS_NAMES
    # The GeoJSON 2008 draft's form, {"type": "EPSG", "properties": {"code": 4326}}.
    return crs.get("type") == "EPSG" and properties.get("code") in GEOJSON_CRS_CODES


def _all_columns(pyogrio, path: str, layers: list[str]) -> list[str]:
    """The columns of every layer, each once, in the order the layers and their fields come."""
    columns: list[str] = []
    for name in layers:
        for column in pyogrio.read_info(path, layer=name)["fields"]:
            if str(column) not in columns:
                columns.append(str(column))
    return columns


def _layer(pyogrio, request: dict) -> tuple[str, list[str]]:
    """The layer to read (the one asked for, else the first) and every layer of the file."""
    layers = [str(name) for name, _ in pyogrio.list_layers(request["path"])]
    wanted = request.get("layer")
    if wanted is not None:
        if wanted not in layers:
            raise Refused(
                "layer", f"没有图层 “{wanted}” / No layer “{wanted}”; layers: {', '.join(layers)}"
            )
        return wanted, layers
    if not layers:
        raise Refused("read.failed", "文件中没有图层 / The file holds no layer")
    return layers[0], layers


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main())
