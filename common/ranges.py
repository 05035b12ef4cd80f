"""A file answered in byte ranges (RFC 9110 §14): what a PMTiles reader needs from a web server.

Django's FileResponse has no Range support; WhiteNoise has, but only for collected static files,
and a street base map archive (gigabytes, replaced by the operator) is no static file. One range
per request, as PMTiles readers send; anything else is refused with 416 rather than answered with
the whole archive (RFC 9110 §14.2 lets a server reject such a Range).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, StreamingHttpResponse
from django.utils.cache import patch_cache_control
from django.utils.http import quote_etag

from common.http import json_errors

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024
UNSATISFIABLE = "unsatisfiable"


def file_etag(path: Path) -> str:
    """A strong validator that changes when the operator replaces the file (size and mtime)."""
    stat = path.stat()
    return quote_etag(f"{stat.st_size:x}-{stat.st_mtime_ns:x}")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The one byte range (first, last; inclusive) a Range header asks for, or None when it is
    malformed, names several ranges or lies past the end (each a 416)."""
    match = RANGE.match(header.strip())
    if not match or size == 0:
        return None
    first, last = match.groups()
    if first == "":
        if last == "" or int(last) == 0:
            return None
        return max(size - int(last), 0), size - 1  # the last N bytes
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start > end:
        return None
    return start, end


def _read(path: Path, start: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as stream:
        stream.seek(start)
        while length > 0:
            chunk = stream.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


def ranged_file_response(
    request: HttpRequest, path: Path, content_type: str, max_age: int
) -> HttpResponse:
    """The file, or the byte range the request asks for: 200, 206, 304 or 416 (with the error
    envelope naming `Range`). Private to the requester's browser, which revalidates by ETag."""
    size = path.stat().st_size
    etag = file_etag(path)
    if etag in request.headers.get("If-None-Match", ""):
        response: HttpResponse = HttpResponseNotModified()
    else:
        asked = request.headers.get("Range")
        # If-Range with another validator: the file changed, so the whole of it, not a piece.
        if asked is not None and request.headers.get("If-Range", etag) != etag:
            asked = None
        if asked is None:
            response = StreamingHttpResponse(_read(path, 0, size), content_type=content_type)
            response["Content-Length"] = str(size)
        elif (span := parse_range(asked, size)) is None:
            response = json_errors(
                {
                    "Range": (
                        f"请求的字节范围无效或超出文件（{size} 字节）/ "
                        f"the byte range is malformed or past the end of the file ({size} bytes)"
                    )
                },
                status=416,
                rule=UNSATISFIABLE,
            )
            response["Content-Range"] = f"bytes */{size}"
        else:
            start, end = span
            response = StreamingHttpResponse(
                _read(path, start, end - start + 1), status=206, content_type=content_type
            )
            response["Content-Length"] = str(end - start + 1)
            response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    patch_cache_control(response, private=True, max_age=max_age)
    return response
