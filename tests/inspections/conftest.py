"""An inspection body of 兴庆区 with its feed account over 银川市 for elevators and cranes."""

from __future__ import annotations

import pytest

from geo.models import Region
from inspections import services
from registry.models import UnitRole
from tests.conftest import XINGQING, YINCHUAN


@pytest.fixture
def body(make_unit):
    return make_unit(XINGQING, roles=(UnitRole.INSPECTION,), name="银川特检院")


@pytest.fixture
def account(body):
    return services.open_feed_account(
        body, area=Region.objects.get(code=YINCHUAN), kinds=["3000", "4000"], acting_user=None
    )


@pytest.fixture
def key(account):
    return services.issue_feed_token(account, acting_user=None)
