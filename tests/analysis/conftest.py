"""A small registry in 银川市 whose every figure is worked out by hand in the tests.

Elevators (3110, inspected yearly), as of TODAY = 2025-06-30:

| device | county | registered | events | inspections (→ due they set) |
|---|---|---|---|---|
| A | 兴庆区 | 2023-03-01 | | 2024-02-20 (→ 2025-02-20), 2025-03-10 (→ 2026-03-10): late |
| B | 兴庆区 | 2023-05-01 | | 2024-04-15 (→ 2025-04-15), 2025-04-01 (→ 2026-04-01): on time |
| C | 兴庆区 | 2024-01-10, due 2025-01-10 | cancelled 2024-07-01 (mid-year) | none |
| D | 兴庆区 | 2025-02-01, no commissioning date (so no due date) | | none |
| E | 兴庆区 | 2023-01-15, due 2024-01-15 | suspended 2023-12-01 | none |
| F | 西夏区 | 2024-06-01, due 2025-06-01 | | none: overdue |
| G | 西夏区 | 2022-12-01, due 2023-12-01 | | 2023-11-20 (→ 2024-11-20), 2024-11-01 (→ 2025-11-01) |

Accidents: 兴庆区 2024-08-08 (0 dead, 1 injured); 西夏区 2025-03-03 (1 dead, 2 injured).
金凤区 (640106) has nothing: a county with no devices. 大武口区 (another city) has one device, H.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from registry import services
from registry.models import EquipmentStatus
from tests.conftest import SHIZUISHAN_DAWUKOU, XINGQING, XIXIA

TODAY = dt.date(2025, 6, 30)
JINFENG = "640106"
D = dt.date


@pytest.fixture
def registry(db, make_equipment):
    def device(code, registered, due=None, commissioned=True):
        return make_equipment(
            code,
            registered_on=registered,
            commissioned_on=registered if commissioned else None,
            next_inspection_due=due,
        )

    def inspect(equipment, *days):
        for day in days:
            services.record_inspection(
                equipment, acting_user=None, conclusion="pass", inspected_on=day
            )

    made = {
        "A": device(XINGQING, D(2023, 3, 1), D(2024, 3, 1)),
        "B": device(XINGQING, D(2023, 5, 1), D(2024, 5, 1)),
        "C": device(XINGQING, D(2024, 1, 10), D(2025, 1, 10)),
        "D": device(XINGQING, D(2025, 2, 1), commissioned=False),
        "E": device(XINGQING, D(2023, 1, 15), D(2024, 1, 15)),
        "F": device(XIXIA, D(2024, 6, 1), D(2025, 6, 1)),
        "G": device(XIXIA, D(2022, 12, 1), D(2023, 12, 1)),
        "H": device(SHIZUISHAN_DAWUKOU, D(2024, 3, 1), D(2025, 3, 1)),
    }
    inspect(made["A"], D(2024, 2, 20), D(2025, 3, 10))
    inspect(made["B"], D(2024, 4, 15), D(2025, 4, 1))
    inspect(made["G"], D(2023, 11, 20), D(2024, 11, 1))
    services.change_equipment_status(
        made["C"], EquipmentStatus.CANCELLED, acting_user=None, on=D(2024, 7, 1)
    )
    services.change_equipment_status(
        made["E"], EquipmentStatus.SUSPENDED, acting_user=None, on=D(2023, 12, 1)
    )
    for code, day, deaths, injuries in (
        (XINGQING, D(2024, 8, 8), 0, 1),
        (XIXIA, D(2025, 3, 3), 1, 2),
    ):
        services.record_accident(
            acting_user=None,
            occurred_at=timezone.make_aware(dt.datetime.combine(day, dt.time(10))),
            kind="坠落",
            equipment=next(e for e in made.values() if e.region_id == code),
            deaths=deaths,
            injuries=injuries,
        )
    for equipment in made.values():
        equipment.refresh_from_db()
    return made
