"""The decision-support API's shapes, for the OpenAPI schema: what analysis/decisions.py answers."""

from __future__ import annotations

from rest_framework import serializers

from .serializers import AreaSerializer


class MonthsField(serializers.ListField):
    child = serializers.IntegerField()


class WorkloadBodySerializer(serializers.Serializer):
    id = serializers.IntegerField(
        allow_null=True, help_text="the inspection body (a unit); null: none yet"
    )
    name = serializers.CharField()
    months = MonthsField(help_text="inspections falling due in each month of `months`")
    total = serializers.IntegerField()


class WorkloadCountySerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    months = MonthsField()
    total = serializers.IntegerField()


class WorkloadSerializer(serializers.Serializer):
    area = AreaSerializer()
    as_of = serializers.DateField()
    months = serializers.ListField(
        child=serializers.CharField(), help_text="YYYY-MM, this month first"
    )
    due = MonthsField(
        help_text="devices whose current due date falls in the month (overdue: the first)"
    )
    repeats = MonthsField(
        help_text="the same devices falling due again inside the window by their interval"
    )
    totals = MonthsField(help_text="due + repeats")
    backlog = serializers.IntegerField(
        help_text="devices overdue today, counted in the first month"
    )
    bodies = WorkloadBodySerializer(many=True)
    counties = WorkloadCountySerializer(many=True)


class CoverageCountySerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    devices = serializers.IntegerField(help_text="devices in use of the kind with a location")
    uncovered = serializers.IntegerField(help_text="of them, beyond the arrival time")
    minutes = serializers.FloatField(help_text="the arrival time applied in the county")
    share = serializers.FloatField(allow_null=True, help_text="% uncovered; null with no device")


class SiteSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    lon = serializers.FloatField()
    lat = serializers.FloatField()
    county = serializers.CharField()
    county_name = serializers.CharField()
    newly_covered = serializers.IntegerField(help_text="uncovered devices this site adds")
    covered_so_far = serializers.IntegerField()


class SpeedSerializer(serializers.Serializer):
    urban = serializers.FloatField()
    rural = serializers.FloatField()


class CoverageSerializer(serializers.Serializer):
    area = AreaSerializer()
    as_of = serializers.DateField()
    kind = serializers.CharField()
    types = serializers.ListField(child=serializers.CharField())
    minutes = serializers.IntegerField(
        allow_null=True, help_text="asked arrival time; null: the norm"
    )
    norm = SpeedSerializer(help_text="the 96333 arrival norm in minutes")
    speed_kmh = SpeedSerializer(help_text="straight-line speeds turning distance into time")
    devices = serializers.IntegerField()
    uncovered = serializers.IntegerField()
    counties = CoverageCountySerializer(many=True)
    sites = SiteSerializer(many=True)
    candidates = serializers.IntegerField(help_text="candidate sites weighed (capped)")


class RiskPointsSerializer(serializers.Serializer):
    overdue = serializers.IntegerField()
    accidents = serializers.IntegerField()
    deaths = serializers.IntegerField()
    failed = serializers.IntegerField()
    defects = serializers.IntegerField()
    patrol_findings = serializers.IntegerField()
    open_orders = serializers.IntegerField()
    sealed = serializers.IntegerField()


class RiskUnitSerializer(RiskPointsSerializer):
    rank = serializers.IntegerField(help_text="place in the whole ranking by `sort`")
    id = serializers.IntegerField()
    name = serializers.CharField()
    credit_code = serializers.CharField()
    region = serializers.CharField()
    devices = serializers.IntegerField()
    points = RiskPointsSerializer(help_text="each component's count × its weight")
    score = serializers.IntegerField()


class RiskSerializer(serializers.Serializer):
    area = AreaSerializer()
    as_of = serializers.DateField()
    since = serializers.DateField(help_text="accidents, inspections and patrols counted from")
    weights = RiskPointsSerializer()
    sort = serializers.CharField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    count = serializers.IntegerField()
    units = RiskUnitSerializer(many=True)
