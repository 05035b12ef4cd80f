"""The evaluation API's shapes, for the OpenAPI schema: what analysis/evaluation.py answers."""

from __future__ import annotations

from rest_framework import serializers

from .models import Direction, ScoringRule
from .serializers import AreaSerializer, NumberField


class SchemeComponentSerializer(serializers.Serializer):
    indicator = serializers.CharField(help_text="a rate of /api/analysis/indicators")
    name = serializers.CharField(read_only=True)
    unit = serializers.CharField(read_only=True)
    weight = serializers.FloatField(help_text="points at full marks; the weights sum to 100")
    target = serializers.FloatField(help_text="full marks at or beyond it")
    floor = serializers.FloatField(help_text="no points at or beyond it (linear rule)")
    direction = serializers.ChoiceField(Direction.choices)
    rule = serializers.ChoiceField(ScoringRule.choices, default=ScoringRule.LINEAR)


class SchemeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    owner = serializers.CharField(help_text="'' the national scheme, else the province prefix")
    from_year = serializers.IntegerField(help_text="applies from this year until a later one")
    version = serializers.IntegerField()
    note = serializers.CharField()
    changed_at = serializers.DateTimeField()
    published = serializers.BooleanField(help_text="the year asked for was published with it")
    components = SchemeComponentSerializer(many=True)


class SchemeEditSerializer(serializers.Serializer):
    """The body of PUT /api/analysis/evaluation/scheme (checked by analysis.evaluation)."""

    year = serializers.IntegerField(help_text="the scheme applies from this year on")
    region = serializers.CharField(
        required=False, help_text="your own level's code ('' the nation); default: yours"
    )
    note = serializers.CharField(required=False, max_length=200)
    components = SchemeComponentSerializer(many=True)


class PublishSerializer(serializers.Serializer):
    year = serializers.IntegerField(help_text="a finished year; its scheme is fixed from then on")
    region = serializers.CharField(
        required=False, help_text="your own level's code ('' the nation); default: yours"
    )


class PublicationSerializer(serializers.Serializer):
    owner = serializers.CharField()
    year = serializers.IntegerField()
    scheme = serializers.IntegerField()
    version = serializers.IntegerField()


class TraceSerializer(serializers.Serializer):
    numerator = serializers.CharField(allow_null=True, help_text="list of the records counted")
    denominator = serializers.CharField(allow_null=True, help_text="list of the base; null: none")


class ComponentScoreSerializer(serializers.Serializer):
    indicator = serializers.CharField()
    name = serializers.CharField()
    unit = serializers.CharField()
    formula = serializers.CharField()
    weight = serializers.FloatField()
    target = serializers.FloatField()
    floor = serializers.FloatField()
    direction = serializers.CharField()
    rule = serializers.CharField()
    value = NumberField(allow_null=True, help_text="null: no value (zero denominator, no history)")
    numerator = serializers.IntegerField(allow_null=True)
    denominator = serializers.IntegerField(allow_null=True)
    points = serializers.FloatField(allow_null=True, help_text="null: not applicable")
    applicable = serializers.BooleanField()
    note = serializers.CharField()
    trace = TraceSerializer()


class AgencyScoreSerializer(AreaSerializer):
    agency = serializers.CharField(help_text="the agency (or agencies) of the region")
    score = serializers.FloatField(
        allow_null=True, help_text="earned ÷ applicable weight × 100; null if nothing applies"
    )
    earned = serializers.FloatField()
    applicable_weight = serializers.FloatField()
    components = ComponentScoreSerializer(many=True)


class RankedAgencySerializer(AgencyScoreSerializer):
    rank = serializers.IntegerField(allow_null=True, help_text="1 the best; ties share a rank")


class EvaluationSerializer(serializers.Serializer):
    area = AreaSerializer()
    breadcrumb = AreaSerializer(many=True)
    year = serializers.IntegerField()
    period_end = serializers.DateField()
    as_of = serializers.DateField()
    computed_at = serializers.DateTimeField(
        allow_null=True,
        help_text="when the figures were last computed (precomputed per county; null: not yet)",
    )
    scheme = SchemeSerializer(allow_null=True)
    own = AgencyScoreSerializer(help_text="the area's own agency")
    drillable = serializers.BooleanField()
    agencies = RankedAgencySerializer(many=True, help_text="the child agencies, best first")
    not_yet = serializers.ListField(child=serializers.CharField())


class DueSerializer(serializers.Serializer):
    equipment = serializers.IntegerField()
    device_code = serializers.CharField()
    variety = serializers.CharField()
    region = serializers.CharField()
    due = serializers.DateField()
    inspected_on = serializers.DateField(allow_null=True, help_text="the next inspection")
    met = serializers.BooleanField()


class DuesSerializer(serializers.Serializer):
    area = AreaSerializer()
    year = serializers.IntegerField()
    met = serializers.BooleanField(allow_null=True)
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    count = serializers.IntegerField()
    results = DueSerializer(many=True)
