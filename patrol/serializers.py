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


class NothingSerializer(serializers.Serializer):
    """Nothing to send."""
