"""Two live instances on loopback: the province is a second database served by a real server
process, the nation is the test database; the nation pulls the province's feed over HTTP.

Changes made in the province appear in the nation; the province server dying between pages, or the
nation failing inside a page, loses nothing and a retry converges; re-applying everything changes
nothing; a row outside the province and codes the nation already holds are reported as conflicts;
an entry altered in the province's log, or dropped in transit, stops the pull before it.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.contrib.gis.geos import GEOSGeometry
from django.db import connection

from registry.exchange import pull as pull_module
from registry.exchange.changelog import chain
from registry.exchange.pull import FeedUnavailable, fetch_page, pull
from registry.models import Accident, Equipment, Unit
from registry.models.exchange import (
    GENESIS_HASH,
    ExchangeConflict,
    ExchangeLink,
    ExchangePeer,
    PullState,
)
from registry.synthetic.codes import credit_code
from tests.conftest import XINGQING, XIXIA, free_port

ROOT = Path(__file__).resolve().parents[3]
NINGXIA = "640000"
KEY = b"shared by Ningxia and the nation"  # 32 bytes

# What the province's people do, through the province's own services. Entries, in order:
# 1-4 units (the 4th in Beijing), then per device its registration and its event (5-28),
# 29 inspection, 30 the due date it moved, 31 an address change, 32 an accident.
SEED = """
import datetime as dt
from django.core.management import call_command
from geo.models import Region
from registry import services
from registry.synthetic.codes import credit_code

def inside(code):
    return Region.objects.get(code=code).boundary.point_on_surface

units = [
    services.register_unit(acting_user=None, name=f"省内单位{i}", roles=["use"],
                           credit_code=credit_code(code, 8_000_000 + i), location=inside(code))
    for i, code in enumerate(["640104", "640104", "640105"])
]
services.register_unit(acting_user=None, name="北京的单位", roles=["use"],
                       credit_code=credit_code("110101", 8_100_000), location=inside("110101"))
devices = []
for i in range(12):
    unit = units[i % 3]
    device, _ = services.register_equipment(
        acting_user=None, variety_code="3110", use_unit=unit, location=inside(unit.region_id),
        device_code=f"3110T12342021{i:05d}", commissioned_on=dt.date(2021, 3, 1),
        params={"rated_load_kg": 1000 + i, "rated_speed_m_s": 1.75})
    devices.append(device)
services.record_inspection(devices[0], acting_user=None, conclusion="pass",
                           inspected_on=dt.date(2024, 5, 1))
services.update_equipment(devices[1], acting_user=None, address="兴庆区解放东街1号")
services.record_accident(acting_user=None, occurred_at=dt.datetime(2025, 1, 2, 3, 4, tzinfo=dt.UTC),
                         kind="电梯困人", equipment=devices[3], direct_loss=12.5, injuries=1)
call_command("issue_exchange_token")
"""
# Entries 33 and 34: two more address changes.
MORE = """
from registry import services
from registry.models import Equipment
for code, address in (("3110T1234202100003", "西夏区文昌路2号"), ("3110T1234202100004", "兴庆区新华街3号")):
    services.update_equipment(Equipment.objects.get(device_code=code), acting_user=None, address=address)
"""
EXPECTED_CONFLICTS = {
    (3, "duplicate_key", "unit"),  # the nation already has this credit code: linked, kept
    (4, "outside_province", "unit"),  # a Beijing unit in Ningxia's feed
    (15, "duplicate_key", "equipment"),  # device 5's code is already registered in the nation
    (16, "missing_reference", "lifecycleevent"),  # …so its registration event has no device
}


class Province:
    """A provincial instance: its database and its server process."""

    def __init__(self, national_db: dict):
        self.db = national_db
        self.name = f"{national_db['NAME']}_province"
        self.server: subprocess.Popen | None = None
        self.url = ""

    def pg(self, *args: str) -> list[str]:
        return [*args, "-h", self.db["HOST"] or "127.0.0.1", "-p", str(self.db["PORT"] or 5432),
                "-U", self.db["USER"]]  # fmt: skip

    def env(self) -> dict:
        db = self.db
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgis://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{self.name}",
            "DATABASE_POOL": "0",
            # The province signs its feed with the key it shares with the national reader.
            "SEGIS_EXCHANGE_KEYS": f"national-exchange={base64.b64encode(KEY).decode()}",
        }

    def create(self) -> None:
        """A copy of the test database as it stands committed: schema, regions, catalogue."""
        self.drop()
        subprocess.run(self.pg("createdb", self.name), check=True, env=self.env())
        dump = subprocess.Popen(
            self.pg("pg_dump", "--no-owner", "-d", self.db["NAME"]), stdout=subprocess.PIPE
        )
        subprocess.run(
            self.pg("psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.name),
            stdin=dump.stdout, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        assert dump.wait() == 0

    def drop(self) -> None:
        subprocess.run(self.pg("dropdb", "--if-exists", "--force", self.name), check=True)

    def run(self, code: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self) -> None:
        port = free_port()
        self.server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT, env=self.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                assert self.server.poll() is None, "the province server exited"
                time.sleep(0.1)
        raise AssertionError("the province server did not start")

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGKILL)
            self.server.wait(10)
        self.server = None

    def sql(self, query: str, params=()) -> list[tuple]:
        with psycopg.connect(
            host=self.db["HOST"] or "127.0.0.1",
            port=self.db["PORT"] or 5432,
            user=self.db["USER"],
            password=self.db.get("PASSWORD") or None,
            dbname=self.name,
            autocommit=True,
        ) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture
def province(db, settings):
    settings.EXCHANGE_KEYS = {NINGXIA: KEY}
    instance = Province(connection.settings_dict)
    try:
        instance.create()
        yield instance
    finally:
        instance.stop()
        instance.drop()


def province_equipment(province: Province) -> dict[str, tuple]:
    rows = province.sql(
        "SELECT e.device_code, e.address, e.status, e.next_inspection_due, e.region_id, "
        "ST_AsEWKT(e.location), u.credit_code, e.params FROM registry_equipment e "
        "JOIN registry_unit u ON u.id = e.use_unit_id"
    )
    return {row[0]: row[1:] for row in rows}


def national_equipment(codes) -> dict[str, tuple]:
    return {
        e.device_code: (
            e.address,
            e.status,
            e.next_inspection_due,
            e.region_id,
            e.location,
            e.use_unit.credit_code,
            e.params,
        )
        for e in Equipment.objects.filter(device_code__in=codes).select_related("use_unit")
    }


def assert_converged(province: Province, except_codes=("3110T1234202100005",)) -> None:
    theirs = province_equipment(province)
    ours = national_equipment(theirs)
    for code, (address, status, due, region, ewkt, unit_code, params) in theirs.items():
        if code in except_codes:
            continue
        mine = ours[code]
        assert mine[:4] == (address, status, due, region), code
        assert mine[4].equals_exact(GEOSGeometry(ewkt), 1e-9), code
        assert mine[5:] == (unit_code, params), code


def test_province_changes_reach_the_nation_through_failures(
    province, make_unit, make_equipment, monkeypatch
):
    token = province.run(SEED).strip().splitlines()[-1]
    # What the nation already holds: the same unit (by credit code) and the same device code.
    national_unit = make_unit(XIXIA, credit_code=credit_code(XIXIA, 8_000_002), name="国家已有单位")
    national_device = make_equipment(XINGQING, device_code="3110T1234202100005", address="国家")
    province.start()
    peer = ExchangePeer.objects.create(code=NINGXIA, base_url=province.url, token=token)

    # 1. The province server dies after two pages of five: what was applied stays applied.
    pages = []

    def dying(peer, after, limit):
        if len(pages) == 2:
            province.stop()
        pages.append(after)
        return fetch_page(peer, after, limit)

    result = pull(peer, limit=5, fetch=dying)
    peer.refresh_from_db()
    assert (result.state, peer.applied_seq, peer.state) == (PullState.ERROR, 10, PullState.ERROR)
    assert ExchangeLink.objects.filter(peer=peer, model="equipment").count() == 3  # seq 5, 7, 9

    # 2. The nation fails inside a page (entry 17): that page rolls back whole, the cursor stays.
    province.start()
    peer.base_url = province.url
    peer.save()
    real_apply = pull_module._Applier.apply

    def crash_at_17(self, entry):
        if entry["seq"] == 17:
            raise RuntimeError("the national process dies mid-page")
        return real_apply(self, entry)

    monkeypatch.setattr(pull_module._Applier, "apply", crash_at_17)
    with pytest.raises(RuntimeError):
        pull(peer, limit=5)
    peer.refresh_from_db()
    assert peer.applied_seq == 15
    assert not ExchangeConflict.objects.filter(seq__gt=15).exists()
    monkeypatch.setattr(pull_module._Applier, "apply", real_apply)

    # 3. The retry resumes and converges.
    result = pull(peer, limit=5)
    peer.refresh_from_db()
    assert (result.state, peer.applied_seq, peer.state) == (PullState.OK, 32, PullState.OK)
    assert_converged(province)
    conflicts = set(ExchangeConflict.objects.values_list("seq", "kind", "model"))
    assert conflicts == EXPECTED_CONFLICTS
    assert Unit.objects.filter(region_id="110101").count() == 0
    # The unit the nation already had kept its name; the province's devices now point to it.
    national_unit.refresh_from_db()
    assert national_unit.name == "国家已有单位"
    assert Equipment.objects.filter(use_unit=national_unit).count() == 3  # devices 2, 8, 11
    national_device.refresh_from_db()
    assert national_device.address == "国家"
    accident = Accident.objects.get()
    assert (accident.direct_loss, accident.injuries, accident.region_id) == (
        Decimal("12.50"),
        1,
        XINGQING,
    )
    assert accident.equipment.device_code == "3110T1234202100003"

    # 4. Applying everything again changes nothing.
    state = national_equipment(province_equipment(province))
    counts = (Equipment.objects.count(), Unit.objects.count(), ExchangeConflict.objects.count())
    ExchangePeer.objects.filter(pk=peer.pk).update(applied_seq=0, last_hash=GENESIS_HASH)
    peer.refresh_from_db()
    again = pull(peer, limit=50)
    assert (again.state, again.applied) == (PullState.OK, 28)
    assert national_equipment(province_equipment(province)) == state
    assert (
        Equipment.objects.count(),
        Unit.objects.count(),
        ExchangeConflict.objects.count(),
    ) == counts

    # 5. An entry altered in the province's log stops the pull just before it.
    province.run(MORE)
    province.sql(
        "UPDATE registry_changeentry SET payload = replace(payload, '兴庆区新华街3号', '篡改') "
        "WHERE seq = 34"
    )
    result = pull(peer)
    peer.refresh_from_db()
    assert (result.state, peer.applied_seq, peer.state) == (PullState.TAMPERED, 33, "tampered")
    assert Equipment.objects.get(device_code="3110T1234202100003").address == "西夏区文昌路2号"
    assert Equipment.objects.get(device_code="3110T1234202100004").address == ""
    assert not Equipment.objects.filter(address="篡改").exists()

    # 6. Restored in the province, but dropped in transit: refused, nothing applied.
    province.sql(
        "UPDATE registry_changeentry SET payload = replace(payload, '篡改', '兴庆区新华街3号') "
        "WHERE seq = 34"
    )

    def dropping(peer, after, limit):
        body = fetch_page(peer, after, limit)
        body["entries"] = [e for e in body["entries"] if e["seq"] != 34]
        return body

    # The page's MAC covers every hash it lists, so the drop is caught before the seq check.
    assert pull(peer, fetch=dropping).state == PullState.TAMPERED
    peer.refresh_from_db()
    assert (peer.applied_seq, peer.state) == (33, PullState.TAMPERED)

    # 6b. A man in the middle alters entry 34 and recomputes its SHA-256: the MAC refuses it.
    def forging(peer, after, limit):
        body = fetch_page(peer, after, limit)
        entry = body["entries"][0]
        entry["payload"] = entry["payload"].replace("兴庆区新华街3号", "伪造")
        entry["hash"] = chain(peer.last_hash, entry)
        return body

    assert pull(peer, fetch=forging).state == PullState.TAMPERED
    peer.refresh_from_db()
    assert (peer.applied_seq, peer.state) == (33, PullState.TAMPERED)
    assert "HMAC" in peer.last_message
    assert not Equipment.objects.filter(address="伪造").exists()

    # 7. And the honest feed converges.
    assert pull(peer).state == PullState.OK
    assert_converged(province)


def test_an_unreachable_province_is_reported_not_raised(db, settings):
    settings.EXCHANGE_KEYS = {NINGXIA: KEY}
    peer = ExchangePeer.objects.create(
        code=NINGXIA, base_url=f"http://127.0.0.1:{free_port()}", token="x"
    )
    result = pull(peer)
    peer.refresh_from_db()
    assert (result.state, peer.state, peer.applied_seq) == (PullState.ERROR, "error", 0)
    assert "127.0.0.1" in peer.last_message
    with pytest.raises(FeedUnavailable):
        fetch_page(peer, 0, 10)


def test_the_commands_register_a_peer_and_report_each_pull(db, settings):
    settings.EXCHANGE_KEYS = {NINGXIA: KEY, "national-exchange": KEY}
    from io import StringIO

    from django.core.management import CommandError, call_command
    from django.test import Client

    out = StringIO()
    call_command("issue_exchange_token", stdout=out)
    token = out.getvalue().strip()
    response = Client().get("/api/exchange/feed/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    call_command("add_exchange_peer", NINGXIA, f"http://127.0.0.1:{free_port()}", token, stdout=out)
    assert ExchangePeer.objects.get(code=NINGXIA).token == token
    with pytest.raises(CommandError):
        call_command("add_exchange_peer", "640100", "http://x", "t", stdout=out)
    summary = StringIO()
    with pytest.raises(CommandError, match="stopped early"):
        call_command("pull_changes", "--peer", NINGXIA, verbosity=0, stdout=summary)
    assert summary.getvalue().startswith("640000: 0 applied, 0 skipped, 0 conflicts")
    assert "[error]" in summary.getvalue()
