"""The desk's API shapes, for the OpenAPI schema: what analysis/desk.py answers."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field(OpenApiTypes.NUMBER)
class NumberField(serializers.Field):
    """A count (integer) or a rate (float), or null where the rate has no denominator; written as
    it is, so a count stays an integer."""

    def to_representation(self, value):
        return value


class AreaSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="6-digit division code; empty for the nation")
    prefix = serializers.CharField(help_text="division-code prefix of the area ('' the nation)")
    name = serializers.CharField()
    level = serializers.CharField(help_text="national, province, city or county")


class IndicatorSerializer(serializers.Serializer):
    """An indicator's definition (analysis/indicators.py)."""

    key = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    formula = serializers.CharField(help_text="how it is computed, in words")
    unit = serializers.CharField(help_text="`count`, `%` or `per 10,000`")
    source = serializers.CharField()
    meaning = serializers.CharField()
    additive = serializers.BooleanField(help_text="child regions' values sum to the parent's")
    current_only = serializers.BooleanField(
        help_text="today's state: its trend reads each year's last daily snapshot"
    )


class ValueSerializer(serializers.Serializer):
    value = NumberField(help_text="numerator × scale ÷ denominator; null when the denominator is 0")
    numerator = serializers.IntegerField()
    denominator = serializers.IntegerField(allow_null=True, help_text="null for a count")


class TrendPointSerializer(ValueSerializer):
    year = serializers.IntegerField()
    numerator = serializers.IntegerField(
        allow_null=True, help_text="null: no snapshot in the year (current-only indicators)"
    )
    day = serializers.DateField(
        allow_null=True,
        help_text="current-only indicators: the latest snapshot day read in the year (each "
        "county's last one in it, up to the day its figures run to); null for yearly measures",
    )
    derived = serializers.BooleanField(
        help_text="the snapshot was derived afterwards from the inspection records (a floor), "
        "not taken on the day"
    )


class IndicatorFigureSerializer(IndicatorSerializer, ValueSerializer):
    trend = TrendPointSerializer(many=True, help_text="one point per year of the period")
    parent = NumberField(
        allow_null=True, help_text="the parent region's value, when your jurisdiction covers it"
    )
    national = NumberField(
        allow_null=True,
        help_text="the nation's value: rates for everyone, counts for national users",
    )


class OverviewSerializer(serializers.Serializer):
    area = AreaSerializer()
    breadcrumb = AreaSerializer(many=True, help_text="your jurisdiction down to the area")
    year = serializers.IntegerField()
    period_end = serializers.DateField(help_text="31 December, or today in the current year")
    as_of = serializers.DateField(help_text="the day asked for (the current year runs to it)")
    computed_at = serializers.DateTimeField(
        allow_null=True,
        help_text="when the figures were last computed (precomputed per county; null: not yet)",
    )
    parent = AreaSerializer(allow_null=True)
    indicators = IndicatorFigureSerializer(many=True)


class RegionRowSerializer(AreaSerializer):
    values = serializers.DictField(child=NumberField(), help_text="indicator key → value")


class RegionsSerializer(serializers.Serializer):
    area = AreaSerializer()
    year = serializers.IntegerField()
    as_of = serializers.DateField()
    computed_at = serializers.DateTimeField(
        allow_null=True,
        help_text="when the figures were last computed (precomputed per county; null: not yet)",
    )
    level = serializers.CharField(help_text="level of the child regions")
    drillable = serializers.BooleanField(help_text="whether the children can be opened in turn")
    regions = RegionRowSerializer(many=True)
    totals = RegionRowSerializer(help_text="the area itself")


class StatusSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()


class KindRowSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="4-character kind code, e.g. 3000")
    name = serializers.CharField()
    in_use = serializers.IntegerField()
    suspended = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    scrapped = serializers.IntegerField()
    total = serializers.IntegerField()


class DevicesSerializer(serializers.Serializer):
    area = AreaSerializer()
    statuses = StatusSerializer(many=True)
    kinds = KindRowSerializer(many=True)


class LegendItemSerializer(serializers.Serializer):
    colour = serializers.CharField()
    label = serializers.CharField()


class RegionPropertiesSerializer(serializers.Serializer):
    code = serializers.CharField()
    prefix = serializers.CharField()
    name = serializers.CharField()
    level = serializers.CharField()
    value = NumberField(allow_null=True)
    fill = serializers.CharField(help_text="the class colour of the value")
    label_point = serializers.ListField(child=serializers.FloatField(), allow_null=True)


class RegionFeatureSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="Feature")
    id = serializers.CharField()
    properties = RegionPropertiesSerializer()
    geometry = serializers.JSONField(help_text="GeoJSON (Multi)Polygon, WGS84, simplified")


class RegionMapSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="FeatureCollection")
    area = AreaSerializer()
    indicator = serializers.CharField()
    year = serializers.IntegerField()
    legend = LegendItemSerializer(many=True)
    drillable = serializers.BooleanField()
    features = RegionFeatureSerializer(many=True)
