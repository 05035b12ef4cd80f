"""The database's own wall (等保 2.0 访问控制, PIPL): row-level security on the personnel register
(registry migration 0010) behind `visible_to`, for a role that is not the tables' owner, as the
application's is. Each test builds its rows as the owner, then runs as such a role; the role is
made inside the test's transaction and goes with it."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from django.db import connection, transaction
from django.http import JsonResponse, StreamingHttpResponse
from django.test import Client, override_settings
from django.urls import path
from psycopg import errors, sql

from common.db import grant_app_role
from geo.scoping import NATIONAL, NOTHING, ROW_SECURED, Scope, reading
from registry import personal, services
from registry.models import Certificate, Inspection, Person
from registry.models.identifiers import certificate_held_elsewhere, national_id_taken
from registry.synthetic.codes import national_id
from tests.conftest import NINGXIA, XINGQING, XIXIA, YINCHUAN

CERTIFICATE = {
    "kind": "特种设备作业人员证", "item_code": "T", "issuer": "银川市市场监督管理局",
    "issued_on": dt.date(2022, 3, 1), "expires_on": dt.date(2026, 2, 28),
}  # fmt: skip


def person(code: str, serial: int, **fields) -> Person:
    return services.register_person(
        acting_user=None,
        name=f"人员{serial}",
        role="operator",
        region_code=code,
        national_id=national_id(code, dt.date(1980, 1, 1), serial),
        certificates=[{**CERTIFICATE, "number": f"T{code}{serial:04d}"}],
        **fields,
    )


@pytest.fixture
def people(db, make_equipment) -> dict[str, Person]:
    """Two of Xingqing's people, one of Xixia's, and a city inspection body's inspector who
    inspected a Xingqing device."""
    found = {
        "xingqing_1": person(XINGQING, 1),
        "xingqing_2": person(XINGQING, 2),
        "xixia": person(XIXIA, 3),
        "inspector": person(YINCHUAN, 4),
        "province": person(NINGXIA, 5),
    }
    Inspection.objects.create(
        equipment=make_equipment(XINGQING),
        inspector=found["inspector"],
        inspected_on=dt.date(2025, 5, 1),
        conclusion="pass",
    )
    return found


@pytest.fixture
def app_role(db):
    """A function that makes the rest of the test run as a role granted what the application's
    role is granted (common.db.grant_app_role), subject to row-level security."""
    role = f"segis_wall_{secrets.token_hex(4)}"

    def become() -> str:
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("CREATE ROLE {} NOLOGIN NOSUPERUSER NOBYPASSRLS").format(
                    sql.Identifier(role)
                )
            )
        assert grant_app_role(role)
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        return role

    yield become
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")


def names(rows) -> set[str]:
    return {p.name for p in rows}


def test_the_row_secured_tables_are_the_ones_the_code_names(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relrowsecurity AND relkind = 'r' "
            "AND relnamespace = 'public'::regnamespace"
        )
        assert {name for (name,) in cursor.fetchall()} == set(ROW_SECURED)


def test_a_query_that_forgets_the_scope_still_reads_only_the_jurisdictions_rows(people, app_role):
    app_role()
    with reading(Scope(XINGQING)):
        # No visible_to: the database answers with Xingqing's people and the inspector of one of
        # its devices, nothing of Xixia's or the province's.
        assert names(Person.objects.all()) == {"人员1", "人员2", "人员4"}
        assert set(Certificate.objects.values_list("person__name", flat=True)) == {
            "人员1", "人员2", "人员4",
        }  # fmt: skip
    with reading(Scope(XIXIA)):
        assert names(Person.objects.all()) == {"人员3"}
    with reading(NATIONAL):
        assert Person.objects.count() == 5 and Certificate.objects.count() == 5
    with reading(NOTHING):
        assert not Person.objects.exists() and not Certificate.objects.exists()


def test_without_a_reader_nothing_is_read(people, app_role):
    app_role()
    with connection.cursor() as cursor:
        cursor.execute("RESET segis.scope")
        cursor.execute("SELECT count(*) FROM registry_person")
        assert cursor.fetchone() == (0,)


def test_the_wall_refuses_a_write_outside_the_jurisdiction_that_skipped_the_services(
    people, app_role
):
    app_role()
    with reading(Scope(XINGQING)):
        with pytest.raises(Exception) as refused, transaction.atomic():
            Person.objects.create(name="越界", role="operator", region_id=XIXIA)
        assert isinstance(refused.value.__cause__, errors.InsufficientPrivilege)
        # Seen (an inspector of its device) is not owned: the update touches no row.
        assert Person.objects.filter(pk=people["inspector"].pk).update(phone="13800000000") == 0
        assert Person.objects.filter(pk=people["xixia"].pk).update(phone="13800000000") == 0
        assert Person.objects.filter(pk=people["xingqing_1"].pk).update(phone="13800000000") == 1


def test_an_id_or_certificate_held_in_another_jurisdiction_is_found_past_the_wall(people, app_role):
    app_role()
    xixia = people["xixia"]
    with reading(Scope(XINGQING)):
        assert not Person.objects.filter(pk=xixia.pk).exists()
        assert national_id_taken(xixia.national_id_hash)
        assert not national_id_taken(
            personal.lookup_hash(national_id(XIXIA, dt.date(1980, 1, 1), 9))
        )
        assert certificate_held_elsewhere(f"T{XIXIA}0003", None)
        assert not certificate_held_elsewhere(f"T{XIXIA}0003", xixia.pk)
        assert not certificate_held_elsewhere("T-nobody", None)


def unscoped_count(request):
    """A view that forgets the scope."""
    return JsonResponse({"people": Person.objects.count()})


urlpatterns = [
    path("people-count/", unscoped_count),
    path("people-streamed/", lambda request: streamed_count(request)),
]


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize(
    ("user", "expected"), [("xingqing", 3), ("xixia", 1), ("province", 5), (None, 0)]
)
def test_a_request_reads_as_its_user_at_the_wall(people, users, app_role, user, expected):
    client = Client()
    if user:
        client.force_login(users[user])
    app_role()
    assert client.get("/people-count/").json() == {"people": expected}


def test_an_import_behind_the_wall_reports_anothers_id_and_certificate_and_writes_nothing(
    users, make_unit, app_role
):
    """A file of Xixia's declaring people Xingqing registered: the ID numbers and certificates are
    someone else's, which the importer learns past the wall, and nothing is written."""
    from tests.registry.importers.test_import_records import import_persons, lines, person_rows

    rows = person_rows(make_unit(XINGQING))
    import_persons(users["province"], rows)
    app_role()
    for row in rows:
        row[3], row[4] = "", XIXIA
    outcome = import_persons(users["xixia"], rows)
    assert lines(outcome) == [
        (2, "身份证号", "national_id.duplicate", "error"),
        (3, "身份证号", "national_id.duplicate", "error"),
    ]
    for row in rows:  # new people, but holding Xingqing's certificate numbers
        row[2] = ""
    outcome = import_persons(users["xixia"], rows)
    assert lines(outcome) == [
        (2, "证书编号", "certificate.duplicate", "error"),
        (3, "证书编号", "certificate.duplicate", "error"),
    ]
    with reading(NATIONAL):
        assert set(Person.objects.values_list("region_id", flat=True)) == {XINGQING}


@pytest.mark.django_db(transaction=True)
def test_a_pooled_connection_comes_back_without_its_reader():
    connection.ensure_connection()
    pool = connection.pool
    first = pool.getconn()
    first.execute("SELECT set_config('segis.scope', 'p:640104', false)")
    pool.putconn(first)
    taken = []
    try:
        while (again := pool.getconn()) is not first:
            taken.append(again)
        taken.append(again)
        assert again.execute("SELECT current_setting('segis.scope', true)").fetchone() in {
            ("",), (None,),
        }  # fmt: skip
    finally:
        for pooled in taken:
            pool.putconn(pooled)
        connection.close()
        connection.close_pool()  # its idle connections would keep the test database from being dropped


def test_a_rollback_undoes_the_setting_and_the_next_statement_sends_it_again(people, app_role):
    """A setting made inside a transaction that rolls back reverts to what the connection held
    before (here a wider reader a kept connection was left with): the next statement sends it
    again rather than trusting it was sent."""
    app_role()
    with reading(Scope(XINGQING)):
        with connection.cursor() as cursor:  # a wider reader, as if left by someone else
            cursor.execute("SELECT set_config('segis.scope', 'p:', false)")
        connection.reader_sent = None
        for _ in range(2):
            with pytest.raises(ZeroDivisionError), transaction.atomic():
                assert Person.objects.count() == 3
                1 / 0  # noqa: B018
            assert Person.objects.count() == 3


def test_the_reader_is_cleared_when_its_block_ends(people, app_role):
    app_role()
    with reading(NATIONAL):
        assert Person.objects.count() == 5
    with connection.cursor() as cursor:  # outside any block: no reader, nothing read
        cursor.execute("SELECT current_setting('segis.scope', true), count(*) FROM registry_person")
        assert cursor.fetchone() == ("", 0)


def test_definer_functions_ignore_a_shadowing_temporary_table_and_are_closed_to_public(
    people, app_role
):
    role = app_role()
    xixia = people["xixia"]
    with connection.cursor() as cursor:
        # A temporary registry_person of the caller's would be found first on a search_path
        # that let pg_temp in: the function must not read it.
        cursor.execute("CREATE TEMP TABLE registry_person (national_id_hash text)")
        cursor.execute("INSERT INTO registry_person VALUES ('shadow')")
        assert not national_id_taken("shadow")
        assert national_id_taken(xixia.national_id_hash)
        cursor.execute("DROP TABLE pg_temp.registry_person")
        outsider = f"{role}_outsider"
        cursor.execute("RESET ROLE")
        cursor.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(outsider)))
        cursor.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(outsider)))
        for question in (national_id_taken, lambda v: certificate_held_elsewhere(v, None)):
            with pytest.raises(Exception) as refused, transaction.atomic():
                question("anything")
            assert isinstance(refused.value.__cause__, errors.InsufficientPrivilege)


def streamed_count(request):
    return StreamingHttpResponse(str(Person.objects.count()) for _ in range(1))


@override_settings(ROOT_URLCONF=__name__)
def test_a_streamed_body_reads_as_the_requests_user(people, users, app_role):
    """A streamed body is made after the middleware returned: it reads as the request's user,
    neither as nobody nor as whoever the connection served before."""
    client = Client()
    client.force_login(users["xingqing"])
    app_role()
    response = client.get("/people-streamed/")
    assert b"".join(response.streaming_content) == b"3"


def test_the_systems_own_import_reads_and_writes_the_whole_registry(make_unit, app_role):
    from tests.registry.importers.test_import_records import import_persons, person_rows

    rows = person_rows(make_unit(XINGQING))
    app_role()
    assert import_persons(None, rows).headline() == "2 new, 0 changed, 0 unchanged"
