"""Demo accounts: one user per level and role of the demo province, with a printed shared password."""

from __future__ import annotations

from dataclasses import dataclass

from .models import Agency, Role, User

DEMO_PASSWORD = "segis-demo-2026"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    region_code: str | None  # None: national
    role: str
    description: str


def demo_accounts(province: str, city: str, county: str) -> list[DemoAccount]:
    return [
        DemoAccount(
            "admin", None, Role.SYSTEM_ADMIN, "全国 · 系统管理员 / national system administrator"
        ),
        DemoAccount("province", province, Role.SUPERVISOR, "省级监察 / province supervisor"),
        DemoAccount(
            "analyst", province, Role.ANALYST, "省级分析 / province analyst (no personal data)"
        ),
        DemoAccount("city", city, Role.SUPERVISOR, "市级监察 / city supervisor"),
        DemoAccount("county", county, Role.SUPERVISOR, "县级监察 / county supervisor"),
        DemoAccount("responder", county, Role.RESPONDER, "县级应急 / county responder (96333)"),
        DemoAccount("inspector", county, Role.INSPECTOR, "检验人员 / inspector"),
    ]


def ensure_demo_users(accounts: list[DemoAccount]) -> list[User]:
    """Create or reset the demo users; their agencies must exist (the generator makes one per region)."""
    users = []
    for account in accounts:
        if account.region_code is None:
            agency, _ = Agency.objects.get_or_create(
                level="national", region=None, defaults={"name": "国家市场监督管理总局"}
            )
        else:
            agency = Agency.objects.filter(region_id=account.region_code).order_by("id").first()
            if agency is None:
                raise ValueError(
                    f"no agency for region {account.region_code}: generate the demo first"
                )
        user, _ = User.objects.get_or_create(username=account.username)
        user.agency, user.role = agency, account.role
        user.is_staff = True
        user.is_superuser = account.role == Role.SYSTEM_ADMIN
        user.set_password(DEMO_PASSWORD)
        user.save()
        users.append(user)
    return users
