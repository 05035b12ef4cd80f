"""The application's state machine, who may take each step, and whose applications a user sees."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from accounts.models import AuditEntry, Role
from common.errors import DomainError
from licensing import services
from licensing.models import Application, ApplicationState, Licence, LicenceStatus
from tests.conftest import XINGQING, XIXIA

S = ApplicationState
SCOPE = [{"code": "3000", "grade": "A"}]


def _file(unit, user, kind="installation"):
    return services.file_application(unit, kind=kind, scope=SCOPE, acting_user=user)


def test_the_whole_path_issues_a_licence(maker, enterprise, users, today):
    application = _file(maker, enterprise)
    assert application.state == S.SUBMITTED
    supervisor = users["xingqing"]
    services.decide_application(application, verb="request_changes", reasons="缺资料",
                                acting_user=supervisor)  # fmt: skip
    services.amend_application(application, scope=[{"code": "3000", "grade": "B"}],
                               acting_user=enterprise)  # fmt: skip
    services.decide_application(application, verb="accept", acting_user=supervisor)
    expires = today.replace(year=today.year + 4)
    done = services.decide_application(
        application, verb="approve", acting_user=supervisor, number="TS3640001-" + str(expires.year),
        expires_on=expires,
    )  # fmt: skip
    assert done.state == S.APPROVED
    licence = Licence.objects.get(application=done)
    assert (licence.unit, licence.kind, licence.status) == (maker, "installation", "valid")
    assert [(s.code, s.grade) for s in licence.scope.all()] == [("3000", "B")]
    verbs = list(done.steps.values_list("verb", flat=True))
    assert verbs == ["file", "request_changes", "resubmit", "accept", "approve"]
    actions = set(
        AuditEntry.objects.filter(object_pk=str(done.pk)).values_list("action", flat=True)
    )
    assert {"licence_application.file", "licence_application.approve"} <= actions
    assert AuditEntry.objects.filter(action="licence.issued", object_pk=str(licence.pk)).exists()


@pytest.mark.parametrize(
    ("state", "verb"),
    [
        (S.SUBMITTED, "approve"),  # accepted first
        (S.CHANGES_REQUESTED, "accept"),  # the applicant's turn
        (S.APPROVED, "refuse"),
        (S.REFUSED, "accept"),
    ],
)
def test_steps_outside_the_machine_are_refused(maker, users, state, verb):
    application = _file(maker, users["xingqing"])
    Application.objects.filter(pk=application.pk).update(state=state)
    with pytest.raises(services.LicensingError) as refused:
        services.decide_application(application, verb=verb, reasons="x",
                                    acting_user=users["xingqing"])  # fmt: skip
    assert refused.value.findings[0].field == "verb"
    assert Application.objects.get(pk=application.pk).state == state


def test_only_changes_requested_may_be_amended(maker, enterprise):
    application = _file(maker, enterprise)
    with pytest.raises(services.LicensingError):
        services.amend_application(application, scope=SCOPE, acting_user=enterprise)


@pytest.mark.parametrize("verb", ["request_changes", "refuse"])
def test_reasons_are_required(maker, users, verb):
    application = _file(maker, users["xingqing"])
    with pytest.raises(services.LicensingError) as refused:
        services.decide_application(application, verb=verb, acting_user=users["xingqing"])
    assert refused.value.findings[0].field == "reasons"


def test_a_refusal_keeps_its_reasons(maker, users):
    application = _file(maker, users["xingqing"])
    done = services.decide_application(application, verb="refuse", reasons="不符合条件",
                                       acting_user=users["xingqing"])  # fmt: skip
    assert (done.state, done.reasons, done.step_due_on) == (S.REFUSED, "不符合条件", None)


def test_an_enterprise_may_not_decide(maker, enterprise):
    application = _file(maker, enterprise)
    with pytest.raises(PermissionDenied):
        services.decide_application(application, verb="accept", acting_user=enterprise)


def test_an_enterprise_applies_only_for_its_own_unit(make_unit, enterprise):
    other = make_unit(XINGQING)
    with pytest.raises(services.LicensingError) as refused:
        _file(other, enterprise)
    assert refused.value.findings[0].field == "unit"


@pytest.mark.parametrize("role", [Role.ANALYST, Role.INSPECTOR, Role.RESPONDER])
def test_other_roles_may_not_apply(maker, users, role):
    user = users["xingqing"]
    user.role = role
    with pytest.raises(PermissionDenied):
        _file(maker, user)


def test_a_supervisor_decides_only_in_the_jurisdiction(maker, users):
    application = _file(maker, users["xingqing"])
    with pytest.raises(DomainError) as refused:
        services.decide_application(application, verb="accept", acting_user=users["xixia"])
    assert refused.value.findings[0].field == "region"


def test_a_supervisor_files_for_units_of_the_jurisdiction_only(make_unit, users):
    with pytest.raises(DomainError):
        _file(make_unit(XIXIA), users["xingqing"])


def test_one_open_application_per_kind(maker, users):
    _file(maker, users["xingqing"])
    with pytest.raises(services.LicensingError) as refused:
        _file(maker, users["xingqing"])
    assert refused.value.findings[0].rule == "application.open"


def test_each_step_carries_its_statutory_limit(maker, users, today):
    application = _file(maker, users["xingqing"])
    assert application.step_started_on == today
    assert application.step_due_on > today  # five working days
    assert not application.overdue(today)
    assert application.overdue(application.step_due_on + dt.timedelta(days=1))


def test_whose_applications_are_seen(maker, make_unit, enterprise, users):
    mine = _file(maker, enterprise)
    other = _file(make_unit(XINGQING), users["xingqing"])
    theirs = _file(make_unit(XIXIA), users["xixia"])
    seen = lambda user: set(Application.objects.visible_to(user))  # noqa: E731
    assert seen(enterprise) == {mine}
    assert seen(users["xingqing"]) == {mine, other}
    assert seen(users["city"]) == {mine, other, theirs}


def test_bad_numbers_and_duplicates_are_refused(maker, issue, today):
    with pytest.raises(services.LicensingError) as refused:
        services.issue_licence(maker, kind="manufacture", scope=SCOPE, number="ABC", authority="x",
                               issued_on=today, expires_on=today.replace(year=today.year + 4),
                               acting_user=None)  # fmt: skip
    assert refused.value.findings[0].field == "number"
    licence = issue(maker)
    with pytest.raises(services.LicensingError) as refused:
        services.issue_licence(maker, kind="manufacture", scope=SCOPE, number=licence.number,
                               authority="x", issued_on=today,
                               expires_on=today.replace(year=today.year + 4), acting_user=None)  # fmt: skip
    assert refused.value.findings[0].rule == "number.duplicate"


def test_status_changes_are_history(maker, issue, users, today):
    licence = issue(maker)
    services.set_licence_status(licence, status=LicenceStatus.SUSPENDED, since=today,
                                reasons="整改", acting_user=users["xingqing"])  # fmt: skip
    licence.refresh_from_db()
    assert licence.standing(today) == "suspended"
    assert licence.standing(today - dt.timedelta(days=1)) == "valid"
    entry = AuditEntry.objects.get(action="licence.suspended", object_pk=str(licence.pk))
    assert (entry.before["status"], entry.after["status"]) == ("valid", "suspended")


def test_expired_is_derived_from_the_date(maker, issue, today):
    licence = issue(maker, issued_on=today - dt.timedelta(days=1500),
                    expires_on=today - dt.timedelta(days=1))  # fmt: skip
    assert licence.status == "valid" and licence.standing(today) == "expired"
    assert not Licence.objects.valid_on(today).filter(pk=licence.pk).exists()


def test_expiring_within_90_days(maker, issue, today):
    soon = issue(maker, issued_on=today - dt.timedelta(days=1400),
                 expires_on=today + dt.timedelta(days=89))  # fmt: skip
    issue(maker, kind="installation", issued_on=today - dt.timedelta(days=1000),
          expires_on=today + dt.timedelta(days=91))  # fmt: skip
    assert list(Licence.objects.expiring(today)) == [soon]


def test_a_supervisor_suspends_and_restores_a_licence_from_its_page(issue, maker, users, today):
    licence = issue(maker)
    client = Client()
    client.force_login(users["xingqing"])
    page = client.get(f"/licensing/licences/{licence.pk}/").content.decode()
    assert 'id="status-form"' in page
    missing = client.post(f"/licensing/licences/{licence.pk}/status/", {"status": "suspended"})
    assert missing.status_code == 400 and "reasons" in missing.content.decode()
    done = client.post(
        f"/licensing/licences/{licence.pk}/status/",
        {"status": "suspended", "since": today.isoformat(), "reasons": "现场检查发现超范围制造"},
    )
    assert done.status_code == 200 and 'id="status-done"' in done.content.decode()
    licence.refresh_from_db()
    assert (licence.status, licence.status_since) == ("suspended", today)
    client.post(
        f"/licensing/licences/{licence.pk}/status/", {"status": "valid", "reasons": "整改完成"}
    )
    licence.refresh_from_db()
    assert licence.status == "valid"
    # Another county's supervisor finds no such licence; an analyst may not decide.
    other = Client()
    other.force_login(users["xixia"])
    assert (
        other.post(
            f"/licensing/licences/{licence.pk}/status/", {"status": "revoked", "reasons": "x"}
        ).status_code
        == 404
    )
    analyst = Client()
    analyst.force_login(users["xingqing_analyst"])
    assert (
        'id="status-form"' not in analyst.get(f"/licensing/licences/{licence.pk}/").content.decode()
    )
    assert (
        analyst.post(
            f"/licensing/licences/{licence.pk}/status/", {"status": "revoked", "reasons": "x"}
        ).status_code
        == 403
    )
    licence.refresh_from_db()
    assert licence.status == "valid"
