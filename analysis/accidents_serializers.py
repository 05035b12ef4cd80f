"""The accident analysis's API shapes, for the OpenAPI schema: what analysis/accidents.py and
analysis/hotspots.py answer."""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from rest_framework import serializers

from .serializers import AreaSerializer, NumberField


class FiltersSerializer(serializers.Serializer):
    kind = serializers.CharField(required=False, help_text=gettext_lazy("事故类型"))
    cause = serializers.CharField(required=False, help_text="cause class")
    severity = serializers.CharField(required=False)
    place = serializers.CharField(required=False, help_text="place type")


class HarmSerializer(serializers.Serializer):
    accidents = serializers.IntegerField()
    deaths = serializers.IntegerField()
    injuries = serializers.IntegerField()


class YearRowSerializer(HarmSerializer):
    year = serializers.IntegerField()
    in_use = serializers.IntegerField(help_text="devices in use at the year's end (the desk's)")
    rated_accidents = serializers.IntegerField(
        help_text="accidents in counties holding devices: the rates' numerator"
    )
    accidents_per_10k = NumberField(allow_null=True)
    deaths_per_10k = NumberField(allow_null=True)


class MonthRowSerializer(HarmSerializer):
    month = serializers.CharField(help_text="YYYY-MM")


class BreakdownRowSerializer(HarmSerializer):
    key = serializers.CharField()
    label = serializers.CharField()


class CauseCountSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    accidents = serializers.IntegerField()


class KindCausesSerializer(serializers.Serializer):
    kind = serializers.CharField()
    accidents = serializers.IntegerField()
    causes = CauseCountSerializer(many=True)


class CauseGroupsSerializer(serializers.Serializer):
    use_management = serializers.IntegerField(help_text=gettext_lazy("使用管理"))
    equipment = serializers.IntegerField(help_text=gettext_lazy("设备缺陷与安全附件"))
    other = serializers.IntegerField()


class AccidentSummarySerializer(serializers.Serializer):
    area = AreaSerializer()
    breadcrumb = AreaSerializer(many=True)
    year = serializers.IntegerField(help_text="the period's last year")
    years = serializers.ListField(child=serializers.IntegerField())
    period_start = serializers.DateField()
    period_end = serializers.DateField(help_text="31 December of `year`, or today")
    as_of = serializers.DateField()
    filters = FiltersSerializer()
    totals = HarmSerializer()
    cause_groups = CauseGroupsSerializer()
    yearly = YearRowSerializer(many=True)
    monthly = MonthRowSerializer(many=True)
    by_kind = BreakdownRowSerializer(many=True)
    by_cause = BreakdownRowSerializer(many=True)
    by_severity = BreakdownRowSerializer(many=True)
    by_month = BreakdownRowSerializer(many=True, help_text="month of the year, 1–12")
    by_place = BreakdownRowSerializer(many=True)
    kind_causes = KindCausesSerializer(many=True)


class AccidentRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField(help_text="the accident's page")
    occurred_at = serializers.CharField(help_text="ISO 8601, Beijing time")
    region = serializers.CharField()
    region_name = serializers.CharField()
    address = serializers.CharField()
    kind = serializers.CharField()
    severity = serializers.CharField()
    severity_label = serializers.CharField()
    cause = serializers.CharField()
    cause_label = serializers.CharField()
    place = serializers.CharField()
    place_label = serializers.CharField()
    deaths = serializers.IntegerField()
    injuries = serializers.IntegerField()


class AccidentPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    page_size = serializers.IntegerField()
    results = AccidentRowSerializer(many=True)


class HotspotCountySerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    numerator = serializers.IntegerField()
    denominator = serializers.IntegerField(help_text="device-years (accidents) or devices in use")
    rate = NumberField(allow_null=True, help_text="null: no device in use, left out")
    z = NumberField(allow_null=True, help_text="Gi* z-score")
    p = NumberField(allow_null=True, help_text="pseudo p-value, FDR-adjusted")
    spot = serializers.CharField(help_text="hot_99 … cold_99, none, excluded")
    excluded = serializers.CharField(help_text="why not tested: no_devices, no_neighbours, too_few")


class ExcludedSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    reason = serializers.CharField()


class HotspotClassSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    colour = serializers.CharField()


class MethodSerializer(serializers.Serializer):
    statistic = serializers.CharField()
    weights = serializers.CharField()
    permutations = serializers.IntegerField()
    seed = serializers.IntegerField()
    correction = serializers.CharField()


class HotspotsSerializer(serializers.Serializer):
    area = AreaSerializer()
    breadcrumb = AreaSerializer(many=True)
    measure = serializers.CharField()
    measure_name = serializers.CharField()
    year = serializers.IntegerField()
    years = serializers.ListField(child=serializers.IntegerField())
    as_of = serializers.DateField()
    method = MethodSerializer()
    tested = serializers.IntegerField()
    counties = HotspotCountySerializer(many=True)
    excluded = ExcludedSerializer(many=True)
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="class → counties")
    legend = HotspotClassSerializer(many=True)


class HotspotPropertiesSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    level = serializers.CharField()
    value = NumberField(allow_null=True)
    z = NumberField(allow_null=True)
    p = NumberField(allow_null=True)
    fill = serializers.CharField()
    label_point = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    spot = serializers.CharField(help_text="hot_99 … cold_99, none, excluded")


class HotspotFeatureSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="Feature")
    id = serializers.CharField()
    properties = HotspotPropertiesSerializer()
    geometry = serializers.JSONField(help_text="GeoJSON (Multi)Polygon, WGS84, simplified")


class HotspotMapSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="FeatureCollection")
    area = AreaSerializer()
    measure = serializers.CharField()
    year = serializers.IntegerField()
    tested = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField())
    legend = HotspotClassSerializer(many=True)
    features = HotspotFeatureSerializer(many=True)
