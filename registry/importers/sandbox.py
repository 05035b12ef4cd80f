"""Run the GDAL read of an upload in a bounded child process and stream its rows back as Arrow.

Why a child: GDAL parses hostile bytes in C; there a bug, a decompression bomb or a reference to a
network resource must cost one short-lived process, not the web worker. The child (gdal_child.py,
a fresh interpreter with no project imports) caps its memory and CPU time, is forbidden network
sockets by a seccomp filter, and is killed by the parent when the wall-clock limit passes. Rows
come back as an Arrow IPC stream, one record batch at a time, so memory on both sides is bounded
by the batch size. The cost: about half a second to start the interpreter and import pyogrio and
pyarrow, and one copy of every batch through a pipe (see docs/import.md for figures).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import refuse
from .limits import limit

# pyarrow loads with the first file read, not when Django starts.
if TYPE_CHECKING:
    import pyarrow as pa

CHILD = Path(__file__).with_name("gdal_child.py")
FIELD = "file"
STDERR_KEEP = 64 * 1024
# The child's whole environment: nothing of the parent's (proxies, credentials, GDAL options).
# Arrow's own allocator reserves address space by the gigabyte, which RLIMIT_AS counts: the child
# uses malloc, with few arenas, so that the limit measures what the read really holds.
CHILD_ENVIRONMENT = {
    "PROJ_NETWORK": "OFF",
    "ARROW_DEFAULT_MEMORY_POOL": "system",
    "MALLOC_ARENA_MAX": "2",
    "LANG": "C.UTF-8",
    "PATH": "/usr/bin:/bin",
}


@contextmanager
def gdal_batches(
    path: Path, kind: str, *, layer: str | None = None, encoding: str | None = None
) -> Iterator[pa.RecordBatchStreamReader]:
    """The layer's record batches, read by the bounded child; refusals become IntakeError."""
    import pyarrow as pa

    request = {
        "path": str(path),
        "format": kind,
        "layer": layer,
        "encoding": encoding,
        "memory_bytes": int(limit("IMPORT_READ_MEMORY_BYTES")),
        "cpu_seconds": int(limit("IMPORT_READ_CPU_SECONDS")),
        "batch_rows": int(limit("IMPORT_READ_BATCH_ROWS")),
    }
    child = subprocess.Popen(
        [sys.executable, "-I", str(CHILD)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=path.parent,
        env=CHILD_ENVIRONMENT,
        start_new_session=True,
    )
    watch = _Watch(child, float(limit("IMPORT_READ_SECONDS")))
    try:
        try:
            child.stdin.write((json.dumps(request) + "\n").encode())
            child.stdin.close()
            stream = pa.ipc.open_stream(child.stdout)
        except (pa.ArrowInvalid, OSError):  # the child ended before its first batch
            watch.fail()
        checked = _Checked(stream, watch)
        yield checked
        if checked.complete:
            watch.finish()
    finally:
        watch.stop()


class _Checked:
    """The child's stream; a stream cut short becomes the refusal the child reported."""

    def __init__(self, reader: pa.RecordBatchStreamReader, watch: _Watch):
        self.reader, self.watch = reader, watch
        self.schema = reader.schema
        self.complete = False

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        try:
            yield from self.reader
        except (pa.ArrowInvalid, OSError):
            self.watch.fail()
        self.complete = True


class _Watch:
    """Kills the child at the wall-clock limit; collects its stderr; turns its end into a verdict."""

    def __init__(self, child: subprocess.Popen, seconds: float):
        self.child, self.seconds = child, seconds
        self.timed_out = False
        self.stderr = b""
        self.timer = threading.Timer(seconds, self._timeout)
        self.timer.daemon = True
        self.drain = threading.Thread(target=self._drain, daemon=True)
        self.timer.start()
        self.drain.start()

    def _timeout(self) -> None:
        self.timed_out = True
        self._kill()

    def _kill(self) -> None:
        if self.child.poll() is None:
            os.killpg(self.child.pid, signal.SIGKILL)

    def _drain(self) -> None:
        while chunk := self.child.stderr.read(8192):
            self.stderr = (self.stderr + chunk)[-STDERR_KEEP:]

    def finish(self) -> None:
        """After the whole stream: the child must have exited cleanly."""
        if self.child.wait() != 0:
            self.fail()

    def fail(self) -> None:
        self.child.wait()
        self.drain.join(timeout=5)
        if self.timed_out:
            refuse(FIELD, "read.timeout", f"读取超过 {self.seconds:g} 秒，已中止 / Reading took "
                   f"longer than {self.seconds:g} s and was stopped", "拆分文件后分批导入 / "
                   "Split the file and import the parts")  # fmt: skip
        reported = _reported(self.stderr)
        if reported:
            field = "layer" if reported["rule"] == "layer" else FIELD
            refuse(field, reported["rule"], reported["message"])
        code = self.child.returncode
        if code in (-signal.SIGXCPU, -signal.SIGKILL):
            refuse(FIELD, "read.cpu", "读取超出 CPU 时间限制 / The read ran out of its CPU time")
        refuse(FIELD, "read.failed", f"文件无法读取（子进程退出码 {code}）/ The file could not be read "
               f"(reader exit status {code})")  # fmt: skip

    def stop(self) -> None:
        self.timer.cancel()
        self._kill()
        self.child.wait()
        for stream in (self.child.stdout, self.child.stdin):
            if stream and not stream.closed:
                stream.close()
        self.drain.join(timeout=5)


def _reported(stderr: bytes) -> dict[str, Any] | None:
    for line in reversed(stderr.decode("utf-8", errors="replace").splitlines()):
        if line.startswith("{"):
            try:
                reported = json.loads(line)
            except ValueError:
                continue
            if isinstance(reported, dict) and {"rule", "message"} <= reported.keys():
                return reported
    return None
