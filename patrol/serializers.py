"""What a caller sends, for the API docs and the browsable API's forms; the parsers in `area` and
`services` check it, so every refusal names its field the same way."""

from __future__ import annotations

from rest_framework import serializers


class PlanRequestSerializer(serializers.Serializer):
    area = serializers.JSONField(
        required=False,
        help_text='"jurisdiction" (default), {"region": "640104"} or {"polygon": GeoJSON or WKT}',
    )
    period = serializers.JSONField(help_text='{"from": "2026-06-01", "to": "2026-06-30"}')
    criteria = serializers.JSONField(
        required=False, help_text='{"kind": "1000,4000", "min_score": 1, "limit": 200}'
    )
    teams = serializers.IntegerField(required=False, min_value=1, help_text="how many teams, ≥ 1")
    routing = serializers.JSONField(
        required=False,
        help_text='also plan the routes, all or nothing: {"teams": {"count", "hours", "start", '
        '"end", "members"}, "days": n}',
    )


class CandidateMarkSerializer(serializers.Serializer):
    pinned = serializers.BooleanField(required=False)
    dropped = serializers.BooleanField(required=False)


class RouteRequestSerializer(serializers.Serializer):
    teams = serializers.JSONField(
        required=False,
        help_text='{"count": 3, "hours": 8, "start": [lon, lat], "end": [lon, lat], '
        '"members": [[user ids of team 1], …]}',
    )
    days = serializers.IntegerField(
        required=False, help_text="working days to plan from the period's start (default ≤ 5)"
    )


class MoveSerializer(serializers.Serializer):
    route = serializers.IntegerField(help_text="a route of the same plan")
    position = serializers.IntegerField(help_text="1 = first stop")


class StopResultSerializer(serializers.Serializer):
    visited = serializers.BooleanField()
    findings = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    order_issued = serializers.BooleanField(required=False, default=False)
    order_number = serializers.CharField(required=False, allow_blank=True, max_length=40)
    sealed = serializers.BooleanField(required=False, default=False)
    on = serializers.DateField(required=False, allow_null=True)
    # A stop planned for another day is recorded only when this says the desk means it.
    other_day = serializers.BooleanField(required=False, default=False)


class NothingSerializer(serializers.Serializer):
    """Nothing to send."""


# --------------------------------------------------------------------------- answers


class DeviceBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    device_code = serializers.CharField()
    kind = serializers.CharField()
    address = serializers.CharField(allow_blank=True)
    region = serializers.CharField(allow_null=True, help_text="division code")
    location = serializers.ListField(
        child=serializers.FloatField(), allow_null=True, help_text="[lon, lat], WGS84"
    )


class ReasonSerializer(serializers.Serializer):
    factor = serializers.CharField()
    points = serializers.FloatField()
    detail = serializers.CharField()


class CandidateSerializer(serializers.Serializer):
    """A candidate as `candidate_json` writes it."""

    id = serializers.IntegerField()
    plan = serializers.IntegerField()
    rank = serializers.IntegerField()
    score = serializers.FloatField()
    reasons = ReasonSerializer(many=True)
    pinned = serializers.BooleanField()
    dropped = serializers.BooleanField()
    equipment = DeviceBriefSerializer()


class PlanSerializer(serializers.Serializer):
    """A plan as `plan_json` writes it."""

    id = serializers.IntegerField()
    owner = serializers.CharField(help_text="user name")
    region = serializers.CharField(allow_null=True, help_text="division code")
    # `from` is a Python keyword: declared through the class namespace.
    locals()["from"] = serializers.DateField()
    to = serializers.DateField()
    criteria = serializers.JSONField()
    created_at = serializers.DateTimeField()
    candidates = serializers.IntegerField()
    pinned = serializers.IntegerField()
    dropped = serializers.IntegerField()


class PlanDetailSerializer(PlanSerializer):
    """A plan with its candidates, best first."""

    candidate_list = CandidateSerializer(many=True)


class StopDeviceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    device_code = serializers.CharField()
    registration_code = serializers.CharField(allow_blank=True)
    kind = serializers.CharField()
    variety = serializers.CharField(allow_null=True)
    address = serializers.CharField(allow_blank=True)


class StopResultAnswerSerializer(serializers.Serializer):
    visited = serializers.BooleanField()
    findings = serializers.CharField(allow_blank=True)
    order_issued = serializers.BooleanField()
    order_number = serializers.CharField(allow_blank=True)
    sealed = serializers.BooleanField()
    recorded_at = serializers.DateTimeField()
    recorded_by = serializers.CharField(allow_blank=True, help_text="user name")


class StopSerializer(serializers.Serializer):
    """A stop as `stop_json` writes it."""

    id = serializers.IntegerField()
    route = serializers.IntegerField()
    sequence = serializers.IntegerField()
    candidate = serializers.IntegerField()
    rank = serializers.IntegerField()
    score = serializers.FloatField()
    reasons = ReasonSerializer(many=True)
    pinned = serializers.BooleanField()
    arrival_minutes = serializers.FloatField(help_text="from the start of the working day")
    departure_minutes = serializers.FloatField()
    location = serializers.ListField(
        child=serializers.FloatField(), allow_null=True, help_text="[lon, lat], WGS84"
    )
    speed_kmh = serializers.FloatField(
        help_text="straight-line speed near this stop, km/h: slower in a city's districts"
    )
    equipment = StopDeviceSerializer()
    result = StopResultAnswerSerializer(allow_null=True, help_text="null until recorded")


class TeamBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    name = serializers.CharField()


class RouteSerializer(serializers.Serializer):
    """A team's day as `route_json` writes it."""

    id = serializers.IntegerField()
    team = TeamBriefSerializer()
    day = serializers.DateField()
    travel_minutes = serializers.FloatField()
    service_minutes = serializers.FloatField()
    total_minutes = serializers.FloatField()
    working_minutes = serializers.IntegerField()
    start = serializers.ListField(child=serializers.FloatField(), help_text="[lon, lat]")
    end = serializers.ListField(child=serializers.FloatField(), help_text="[lon, lat]")
    stops = StopSerializer(many=True)


class TeamSerializer(TeamBriefSerializer):
    working_minutes = serializers.IntegerField()
    members = serializers.ListField(child=serializers.CharField(), help_text="user names")


class RoutesSerializer(serializers.Serializer):
    """A plan's routes as `routes_json` writes them."""

    plan = serializers.IntegerField()
    summary = serializers.JSONField(allow_null=True, help_text="the last routing's teams and days")
    teams = TeamSerializer(many=True)
    routes = RouteSerializer(many=True)
    unscheduled = CandidateSerializer(many=True, help_text="candidates no day could take")


class RoutingSummarySerializer(serializers.Serializer):
    plan = serializers.IntegerField()
    summary = serializers.JSONField(allow_null=True, help_text="the last routing's teams and days")
