"""Writers at the same time: every committed write gets the next number and one chain runs through
them all (real transactions in threads, so this commits and reloads the boundaries after a flush)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from registry import services
from registry.exchange import changelog, feed
from registry.models.exchange import GENESIS_HASH
from registry.synthetic.codes import credit_code
from tests.conftest import XINGQING, XIXIA, inside, load_test_regions


@pytest.fixture
def committed(transactional_db):
    load_test_regions()


def unit(serial: int, county: str = XINGQING):
    return services.register_unit(
        acting_user=None,
        name=f"并发单位{serial}",
        roles=["use"],
        credit_code=credit_code(county, 9_200_000 + serial),
        location=inside(county),
    )


def writer(serials: list[int], fail: bool, errors: list) -> threading.Thread:
    def run():
        try:
            with transaction.atomic():
                for serial in serials:
                    unit(serial, XIXIA)
                    time.sleep(0.02)
                if fail:
                    raise RuntimeError("this writer's transaction fails after its writes")
        except RuntimeError as error:
            errors.append(error)
        finally:
            connections.close_all()

    return threading.Thread(target=run)


def waiting() -> int:
    """Sessions of this database waiting for a lock (the first writer on the head's row, the
    others in the queue behind it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


def test_concurrent_writers_share_one_gap_free_chain(committed):
    errors: list = []
    threads = [
        writer([10, 11], False, errors),
        writer([20, 21], True, errors),
        writer([30, 31], False, errors),
    ]
    with transaction.atomic():
        unit(1)  # holds the log head until this transaction commits
        for thread in threads:
            thread.start()
        # A writer queues on the head, however long a busy machine takes to start it (how many
        # more reach the database before the head is released depends on the machine).
        deadline = time.monotonic() + 60
        while waiting() < 1:
            assert time.monotonic() < deadline, "no writer queued on the log head"
            time.sleep(0.01)
    for thread in threads:
        thread.join(30)
    assert len(errors) == 1
    entries = feed.page(0, 100)["entries"]
    assert [e["seq"] for e in entries] == list(range(1, 6))
    previous = GENESIS_HASH
    for entry in entries:
        assert entry["hash"] == changelog.chain(previous, entry)
        previous = entry["hash"]
    names = [e["payload"] for e in entries]
    assert not any("并发单位2" in name for name in names)  # the failed writer left nothing
