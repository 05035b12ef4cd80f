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


class CandidateMarkSerializer(serializers.Serializer):
    pinned = serializers.BooleanField(required=False)
    dropped = serializers.BooleanField(required=False)
