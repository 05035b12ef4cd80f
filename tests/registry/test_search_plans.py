"""The registry API's code filter and units search read indexes.

The statements are the ones the API runs, captured from real requests; with sequential scans
priced out (a small table would otherwise be read whole, correctly), the plan must name the index
that serves each condition — proof that the condition is indexable at national size.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def plan_of(client, path: str, table: str, *switches: str) -> str:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    statements = [
        q["sql"] for q in captured if f'FROM "{table}"' in q["sql"] and "WHERE" in q["sql"]
    ]
    assert statements, [q["sql"] for q in captured]
    with transaction.atomic(), connection.cursor() as cursor:
        for switch in ("enable_seqscan", *switches):
            cursor.execute(f"SET LOCAL {switch} = off")
        cursor.execute("EXPLAIN " + statements[-1])
        return "\n".join(row[0] for row in cursor.fetchall())


def test_equipment_code_search_uses_the_code_indexes(client, users, make_equipment):
    make_equipment()
    client.force_login(users["city"])
    plan = plan_of(client, "/api/equipment/?code=3110T123420200001X&limit=10", "registry_equipment")
    assert "Seq Scan on registry_equipment" not in plan, plan
    assert "device_code" in plan and "rescue_id" in plan, plan


def test_unit_name_search_uses_the_trigram_index(client, users, make_unit):
    make_unit(name="银川宁安电梯维保有限公司")
    client.force_login(users["city"])
    response = client.get("/api/units/?search=电梯维保&limit=10")
    assert [f["properties"]["name"] for f in response.json()["results"]["features"]] == [
        "银川宁安电梯维保有限公司"
    ]
    # National: no region condition, whose own index would serve a city-wide search just as well.
    client.force_login(users["national"])
    # Plain index scans off: on a tiny table walking the name index in order (the list's order) is
    # the planner's cheaper pick; the trigram bitmap must be possible.
    plan = plan_of(
        client, "/api/units/?search=电梯维保&limit=10", "registry_unit", "enable_indexscan"
    )
    assert "registry_unit_search_trgm" in plan, plan
    assert "Seq Scan on registry_unit" not in plan, plan
