"""Numbers past their column's range are refused by name (issue 17: found by the schema fuzz)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from registry.models import Inspection
from tests.conftest import XINGQING

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("defects", [32768, 23833081298, -1])
def test_an_inspection_with_defects_out_of_range_is_a_400(users, make_equipment, defects):
    device = make_equipment(XINGQING)
    client = APIClient()
    client.force_authenticate(users["xingqing"])
    response = client.post(
        f"/api/equipment/{device.pk}/inspections/",
        {"conclusion": "pass", "inspected_on": "2026-01-05", "defects": defects},
        format="json",
    )
    assert response.status_code == 400, response.content[:300]
    assert list(response.json()["errors"]) == ["defects"]
    assert not Inspection.objects.filter(equipment=device).exists()
