"""Import fixtures: a private import root per test, files made here, and a loopback listener."""

from __future__ import annotations

import io
import select
import socket
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyogrio import raw

from registry.importers.errors import IntakeError

# Two devices with Chinese names in Yinchuan (lon, lat).
NAMES = ["兴庆区电梯一号", "西夏区锅炉二号"]
POINTS = [(106.2782, 38.4664), (106.1322, 38.4920)]


@pytest.fixture(autouse=True)
def import_root(settings, tmp_path) -> Path:
    settings.IMPORT_ROOT = tmp_path / "imports"
    return settings.IMPORT_ROOT


def write_layer(path: Path, driver: str, *, encoding: str | None = None, crs="EPSG:4326") -> Path:
    """A point layer of NAMES at POINTS written by GDAL (pyogrio)."""
    raw.write(
        str(path),
        geometry=shapely.to_wkb([shapely.Point(p) for p in POINTS]),
        field_data=[np.array(NAMES, dtype=object), np.array([1, 2], dtype=np.int64)],
        fields=["name", "seq"],
        driver=driver,
        geometry_type="Point",
        crs=crs,
        layer="equipment",
        encoding=encoding,
    )
    return path


def zip_bytes(members: dict[str, bytes | Path]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            data = content.read_bytes() if isinstance(content, Path) else content
            archive.writestr(name, data)
    return buffer.getvalue()


def shapefile_zip(
    tmp_path: Path, *, encoding="GBK", keep=(".shp", ".shx", ".dbf", ".prj", ".cpg")
) -> bytes:
    """A zipped point Shapefile whose .dbf is written in `encoding`, with the chosen parts."""
    folder = tmp_path / "shp"
    folder.mkdir(exist_ok=True)
    write_layer(folder / "equipment.shp", "ESRI Shapefile", encoding=encoding)
    parts = {f"equipment{p.suffix}": p for p in folder.iterdir() if p.suffix in keep}
    return zip_bytes(parts)


def refusal(error: pytest.ExceptionInfo[IntakeError]) -> tuple[str, str]:
    finding = error.value.findings[0]
    return finding.field, finding.rule


class Listener:
    """A TCP socket listening on loopback that counts connections, closing each at once (so a
    client that does connect fails fast instead of waiting for its timeout)."""

    def __init__(self):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.peers: list[tuple[str, int]] = []  # accepted, in order
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while self.running:
            if select.select([self.socket], [], [], 0.05)[0]:
                connection, peer = self.socket.accept()
                connection.close()
                with self.lock:
                    self.peers.append(peer)

    def connections(self, timeout: float = 30) -> int:
        """Connections made before this call and since the last one. A marker connection of our
        own goes last: the socket accepts in order, so once the marker is counted, so is every
        connection made before it."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as marker:
            mark = marker.getsockname()
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if mark in self.peers:
                    before = self.peers.index(mark)
                    del self.peers[: before + 1]
                    return before
            assert time.monotonic() < deadline, "the listener never saw its own marker"
            time.sleep(0.01)

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.socket.close()


@pytest.fixture
def listener():
    listening = Listener()
    yield listening
    listening.close()
