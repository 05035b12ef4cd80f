"""The one error envelope, {"errors": {field: [{rule, message, suggestion}]}}: from a FilterError, a
DomainError, DRF's own errors and a 404, on the plain Django views and the DRF views alike; and the
OpenAPI schema's ErrorEnvelope component."""

from __future__ import annotations

import copy

import pytest
from django.test import Client
from rest_framework import exceptions

from common.api import api_errors, exception_handler
from common.errors import DomainError
from layers.filters import FilterError
from maps import openapi
from registry.validators import ERROR, WARNING, Finding

ITEM_KEYS = {"rule", "message", "suggestion"}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_envelope(body: dict) -> dict:
    """The body is the envelope: every field has a non-empty list of complete items."""
    assert set(body) == {"errors"} and body["errors"], body
    for field, items in body["errors"].items():
        assert isinstance(items, list) and items, field
        for item in items:
            assert set(item) == ITEM_KEYS and all(isinstance(v, str) for v in item.values())
            assert item["rule"] and item["message"], item
    return body["errors"]


# --------------------------------------------------------------------------- the errors


def test_a_filter_error_names_its_rule_or_invalid():
    error = FilterError(
        {"bbox": "坐标不是数字 / not numbers", "z": "太大 / too big"}, {"z": "range"}
    )
    assert error.as_dict() == {
        "bbox": [{"rule": "invalid", "message": "坐标不是数字 / not numbers", "suggestion": ""}],
        "z": [{"rule": "range", "message": "太大 / too big", "suggestion": ""}],
    }


def test_a_domain_error_lists_each_field_in_order_without_warnings():
    error = DomainError(
        [
            Finding("device_code", "device_code.length", "应为 20 位 / 20 characters", ERROR),
            Finding("location", "location.far", "偏远 / remote", WARNING),
            Finding("device_code", "device_code.check", "校验位错 / check digit", ERROR, "1234"),
        ]
    )
    assert error.as_dict() == {
        "device_code": [
            {
                "rule": "device_code.length",
                "message": "应为 20 位 / 20 characters",
                "suggestion": "",
            },
            {
                "rule": "device_code.check",
                "message": "校验位错 / check digit",
                "suggestion": "1234",
            },
        ]
    }


def test_the_handler_answers_a_domain_error_with_a_400():
    response = exception_handler(DomainError([Finding("plan", "plan.x", "不行 / no", ERROR)]), {})
    assert response.status_code == 400
    assert response.data == {
        "errors": {"plan": [{"rule": "plan.x", "message": "不行 / no", "suggestion": ""}]}
    }


def test_drf_validation_errors_keep_their_codes_and_nest_as_dotted_paths():
    error = exceptions.ValidationError(
        {
            "visited": [exceptions.ErrorDetail("必填 / required", code="required")],
            "teams": {"start": [exceptions.ErrorDetail("坐标", code="invalid")]},
            "members": [
                {},
                {"user": [exceptions.ErrorDetail("无此用户 / no user", code="missing")]},
            ],
            "non_field_errors": [exceptions.ErrorDetail("整体 / as a whole", code="whole")],
        }
    )
    assert api_errors(error) == {
        "visited": [{"rule": "required", "message": "必填 / required", "suggestion": ""}],
        "teams.start": [{"rule": "invalid", "message": "坐标", "suggestion": ""}],
        "members.1.user": [{"rule": "missing", "message": "无此用户 / no user", "suggestion": ""}],
        "body": [{"rule": "whole", "message": "整体 / as a whole", "suggestion": ""}],
    }


@pytest.mark.parametrize(
    ("exc", "field", "rule"),
    [
        (exceptions.NotAuthenticated(), "user", "not_authenticated"),
        (
            exceptions.PermissionDenied("只有监察人员 / supervisors only"),
            "user",
            "permission_denied",
        ),
        (exceptions.NotFound(), "id", "not_found"),
        (exceptions.ParseError(), "body", "parse_error"),
        (exceptions.MethodNotAllowed("PUT"), "method", "method_not_allowed"),
        (exceptions.Throttled(5), "request", "throttled"),
    ],
)
def test_drf_refusals_name_a_field_instead_of_detail(exc, field, rule):
    response = exception_handler(exc, {})
    assert response.status_code == exc.status_code
    (item,) = assert_envelope(response.data)[field]
    assert item["rule"] == rule and item["message"] == str(exc.detail)


# --------------------------------------------------------------------------- over HTTP


def test_a_plain_view_answers_a_filter_error_in_the_envelope(users):
    response = client_for(users["xingqing"]).get("/tiles/equipment/count?bbox=1,2,x,4&nope=1")
    assert response.status_code == 400
    errors = assert_envelope(response.json())
    assert set(errors) == {"bbox", "nope"}
    assert errors["bbox"][0]["rule"] == "invalid" and "not numbers" in errors["bbox"][0]["message"]


def test_a_plain_view_names_the_rule_of_a_bad_path(users):
    response = client_for(users["xingqing"]).get("/tiles/nolayer/99/0/0.pbf")
    assert response.status_code == 400
    errors = assert_envelope(response.json())
    assert {f: [i["rule"] for i in items] for f, items in errors.items()} == {
        "layer": ["unknown"],
        "z": ["range"],
    }


def test_a_plain_view_refuses_the_anonymous_in_the_envelope(client):
    response = client.get("/tiles/equipment/count")
    assert response.status_code == 403
    assert assert_envelope(response.json())["user"][0]["rule"] == "not_authenticated"


def test_a_drf_view_answers_a_domain_error_in_the_envelope(users):
    response = client_for(users["xingqing"]).get("/response/api/incidents/?state=bogus")
    assert response.status_code == 400
    assert assert_envelope(response.json())["state"][0]["rule"] == "state.unknown"


def test_a_drf_view_answers_a_serializer_error_in_the_envelope(users):
    response = client_for(users["xingqing"]).post(
        "/response/api/incidents/", {"summary": 3, "reported_at": "soon"}, "application/json"
    )
    assert response.status_code == 400
    assert assert_envelope(response.json())["reported_at"][0]["rule"] == "invalid"


def test_a_drf_view_answers_an_unreadable_body_in_the_envelope(users):
    response = client_for(users["xingqing"]).post(
        "/patrol/api/plans/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert assert_envelope(response.json())["body"][0]["rule"] == "parse_error"


def test_a_drf_view_answers_a_404_in_the_envelope(users):
    response = client_for(users["xingqing"]).get("/patrol/api/plans/987654/")
    assert response.status_code == 404
    assert assert_envelope(response.json())["id"][0]["rule"] == "not_found"


def test_a_drf_view_refuses_the_anonymous_in_the_envelope(client):
    response = client.get("/patrol/api/plans/")
    assert response.status_code == 403
    assert assert_envelope(response.json())["user"][0]["rule"] == "not_authenticated"


def test_the_registry_api_answers_a_refused_write_in_the_envelope(users):
    response = client_for(users["xingqing"]).post(
        "/api/equipment/", {"device_code": "short"}, "application/json"
    )
    assert response.status_code == 400
    assert_envelope(response.json())


# --------------------------------------------------------------------------- the schema


@pytest.fixture
def schema(users) -> dict:
    response = client_for(users["xingqing"]).get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _inlined(schema: dict, component: str) -> dict:
    """The component with its $refs replaced by what they name."""

    def resolve(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(copy.deepcopy(schema["components"]["schemas"][component]))


def test_the_schema_has_the_envelope_and_the_map_paths_write_the_same(schema):
    components = schema["components"]["schemas"]
    assert set(components["ErrorItem"]["properties"]) == ITEM_KEYS
    assert openapi.ERRORS == "ErrorEnvelope"
    assert _inlined(schema, "ErrorEnvelope") == openapi.ERRORS_SCHEMA


ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}


@pytest.mark.parametrize(
    ("path", "method", "codes"),
    [
        ("/tiles/equipment/count", "get", {"400", "403"}),
        ("/response/api/incidents/", "post", {"400", "403"}),
        ("/response/api/incidents/{id}/transition/", "get", {"400", "403", "404"}),
        ("/patrol/api/plans/{id}/", "get", {"400", "403", "404"}),
        ("/export/jobs/{id}/", "get", {"403", "404"}),
    ],
)
def test_error_responses_point_at_the_envelope(schema, path, method, codes):
    responses = schema["paths"][path][method]["responses"]
    for code in codes:
        assert responses[code]["content"]["application/json"]["schema"] == ENVELOPE, code
