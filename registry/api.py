"""The registry's REST API: scoped reads, and writes through the services (a refused write is a 400 naming the field)."""

from __future__ import annotations

from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from accounts.policy import Action, Allows
from common.api import error_responses
from geo import crs
from geo.geojson import parse_geometry
from geo.models import Region

from . import search, services
from .models import Accident, EmergencyResource, Equipment, Inspection, Unit
from .models.equipment import EquipmentStatus, InspectionConclusion, InspectionKind


class ScopedViewSetMixin:
    """Every read starts from the caller's jurisdiction: another county's row is a 404, never a 403."""

    model = None

    def get_queryset(self):
        return self.model.objects.visible_to(self.request.user)


class UnitSerializer(GeoFeatureModelSerializer):
    class Meta:
        model = Unit
        geo_field = "location"
        fields = ["id", "credit_code", "name", "roles", "address", "region"]


class EquipmentSerializer(GeoFeatureModelSerializer):
    variety_name = serializers.CharField(source="variety.name_zh", read_only=True)
    variety_name_en = serializers.CharField(source="variety.name_en", read_only=True)
    use_unit_name = serializers.CharField(source="use_unit.name", read_only=True)

    class Meta:
        model = Equipment
        geo_field = "location"
        fields = [
            "id", "device_code", "registration_code", "certificate_number", "rescue_id", "variety", "variety_name", "variety_name_en", "kind",
            "status", "address", "region", "declared_region_code", "region_mismatch", "use_unit", "use_unit_name",
            "maintenance_unit", "manufactured_on", "commissioned_on", "next_inspection_due", "params",
        ]  # fmt: skip
        read_only_fields = fields  # output only: registration has its own serializer


ROUTE_KINDS = ("LineString", "MultiLineString")


class EquipmentRegistrationSerializer(serializers.Serializer):
    """What a caller sends to register a device; codes are checked by the service, not here."""

    variety_code = serializers.CharField(max_length=4)
    use_unit = serializers.IntegerField()
    maintenance_unit = serializers.IntegerField(required=False, allow_null=True)
    longitude = serializers.FloatField(required=False)
    latitude = serializers.FloatField(required=False)
    route = serializers.JSONField(
        required=False, help_text="GeoJSON LineString/MultiLineString, for pipelines"
    )
    crs = serializers.ChoiceField(
        choices=[c.value for c in crs.CRS if c != crs.CRS.WEB_MERCATOR], default="wgs84"
    )
    declared_region_code = serializers.CharField(max_length=6, required=False, default="")
    address = serializers.CharField(max_length=200, required=False, default="")
    device_code = serializers.CharField(max_length=32, required=False, default="")
    registration_code = serializers.CharField(max_length=32, required=False, default="")
    certificate_number = serializers.CharField(max_length=40, required=False, default="")
    rescue_id = serializers.CharField(max_length=8, required=False, default="")
    manufactured_on = serializers.DateField(required=False, allow_null=True)
    commissioned_on = serializers.DateField(required=False, allow_null=True)
    params = serializers.DictField(required=False, default=dict)

    def validate(self, data):
        if ("longitude" in data) != ("latitude" in data):
            raise ValidationError(
                {"location": "经度和纬度需同时给出 / give both longitude and latitude"}
            )
        return data


class InspectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Inspection
        fields = [
            "id",
            "kind",
            "inspected_on",
            "conclusion",
            "defects",
            "defect_notes",
            "report_number",
            "next_due",
            "body",
        ]
        read_only_fields = fields


class InspectionRecordSerializer(serializers.Serializer):
    conclusion = serializers.ChoiceField(choices=InspectionConclusion.choices)
    inspected_on = serializers.DateField()
    kind = serializers.ChoiceField(choices=InspectionKind.choices, default=InspectionKind.PERIODIC)
    # Bounded by the column (a PositiveSmallIntegerField): a larger count is a 400, not a 500.
    defects = serializers.IntegerField(min_value=0, max_value=32767, default=0)
    defect_notes = serializers.CharField(required=False, default="", allow_blank=True)
    report_number = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=32
    )


class EquipmentFilter(filters.FilterSet):
    code = filters.CharFilter(
        method="filter_code", label="任一编码 / any code (device, registration, certificate, 96333)"
    )
    region = filters.CharFilter(method="filter_region", label="区划代码前缀 / division-code prefix")
    overdue = filters.BooleanFilter(method="filter_overdue", label="逾期 / overdue")
    kind = filters.CharFilter()
    variety = filters.CharFilter(field_name="variety_id")
    status = filters.ChoiceFilter(choices=EquipmentStatus.choices)

    class Meta:
        model = Equipment
        fields = ["kind", "variety", "status"]

    def filter_code(self, queryset, name, value):
        return queryset.by_code(value)

    def filter_region(self, queryset, name, value):
        if not value.isdigit() or len(value) > 6:
            raise ValidationError(
                {"region": "区划代码前缀应为1–6位数字 / a division-code prefix is 1–6 digits"}
            )
        return queryset.within_prefix(value)

    def filter_overdue(self, queryset, name, value):
        overdue = queryset.overdue()
        return overdue if value else queryset.exclude(pk__in=overdue.values("pk"))


class EquipmentViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Registered equipment in your jurisdiction; POST registers a device through the validated service."""

    model = Equipment
    serializer_class = EquipmentSerializer
    filterset_class = EquipmentFilter
    permission_classes = [
        IsAuthenticated,
        Allows({"create": Action.REGISTER, "inspections": Action.RECORD_INSPECTION}),
    ]

    def get_queryset(self):
        return super().get_queryset().select_related("variety", "use_unit")

    def get_serializer_class(self):
        # The browsable API draws its POST forms from this too (with the method set to POST): only
        # input serializers without related-object choices may answer then, or a form would list
        # every unit and region in the country.
        if self.action == "inspections":
            return (
                InspectionRecordSerializer
                if self.request.method == "POST"
                else InspectionSerializer
            )
        if self.request.method == "POST":
            return EquipmentRegistrationSerializer
        return EquipmentSerializer

    def create(self, request: Request, *args, **kwargs) -> Response:
        form = EquipmentRegistrationSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        units = Unit.objects.visible_to(request.user)
        use_unit = units.filter(pk=data.pop("use_unit")).first()
        if use_unit is None:
            raise ValidationError(
                {"use_unit": "使用单位不存在或不在辖区内 / no such use unit in your jurisdiction"}
            )
        maintenance_id = data.pop("maintenance_unit", None)
        maintenance_unit = None
        if maintenance_id is not None:
            maintenance_unit = units.with_role("maintenance").filter(pk=maintenance_id).first()
            if maintenance_unit is None:
                raise ValidationError(
                    {
                        "maintenance_unit": "维保单位不存在或不在辖区内 / no such maintenance unit in your jurisdiction"
                    }
                )
        location = route = None
        if "longitude" in data:
            location = (data.pop("longitude"), data.pop("latitude"))
        if data.get("route") not in (None, ""):
            route = parse_geometry(data["route"], "route", kinds=ROUTE_KINDS)
        data.pop("route", None)
        equipment, warnings = services.register_equipment(
            acting_user=request.user,
            use_unit=use_unit,
            maintenance_unit=maintenance_unit,
            location=location,
            route=route,
            source_crs=data.pop("crs"),
            **data,
        )
        body = EquipmentSerializer(equipment).data
        body["properties"]["warnings"] = [
            {"field": w.field, "rule": w.rule, "message": w.message} for w in warnings
        ]
        return Response(body, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get", "post"])
    def inspections(self, request: Request, pk=None, format=None) -> Response:
        """GET the inspection history; POST records an inspection and moves the due date by the rule table."""
        equipment = self.get_object()
        if request.method == "GET":
            return Response(InspectionSerializer(equipment.inspections.all(), many=True).data)
        form = InspectionRecordSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        inspection = services.record_inspection(
            equipment, acting_user=request.user, **form.validated_data
        )
        return Response(InspectionSerializer(inspection).data, status=status.HTTP_201_CREATED)


class UnitViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Units (organisations) located in your jurisdiction; `search` keeps those whose name, credit
    code or address holds the text (the ranked search as people type is /api/search/)."""

    model = Unit
    serializer_class = UnitSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        term = self.request.query_params.get("search", "").strip()
        if term:
            queryset = search.units_containing(queryset, search.clean_text(term, "search"))
        return queryset


class AccidentSerializer(GeoFeatureModelSerializer):
    class Meta:
        model = Accident
        geo_field = "location"
        fields = [
            "id",
            "occurred_at",
            "kind",
            "severity",
            "deaths",
            "injuries",
            "direct_loss",
            "cause_class",
            "investigation_status",
            "region",
            "equipment",
        ]


class AccidentViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Accidents in your jurisdiction, newest first."""

    model = Accident
    serializer_class = AccidentSerializer


class ResourceSerializer(GeoFeatureModelSerializer):
    class Meta:
        model = EmergencyResource
        geo_field = "location"
        fields = ["id", "name", "resource_type", "capability", "duty_hours", "address", "region"]


class ResourceViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Emergency resources in your jurisdiction (contacts are not part of this listing)."""

    model = EmergencyResource
    serializer_class = ResourceSerializer


class RegionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["code", "name", "level", "parent"]


class RegionViewSet(viewsets.ReadOnlyModelViewSet):
    """Divisions inside your jurisdiction (boundaries are served by the map layers)."""

    serializer_class = RegionSerializer
    queryset = Region.objects.none()  # the model, for the schema; every request narrows its own

    def get_queryset(self):
        prefix = getattr(self.request.user, "jurisdiction_prefix", None)
        return Region.objects.none() if prefix is None else Region.objects.within_prefix(prefix)


class _FeatureCollection(serializers.Serializer):
    type = serializers.CharField()
    features = serializers.ListField(child=serializers.DictField())


class SearchAnswerSerializer(serializers.Serializer):
    equipment = _FeatureCollection(help_text="设备，最佳在前 / devices, best first")
    units = _FeatureCollection(help_text="单位，最佳在前 / units, best first")
    more = serializers.BooleanField(
        help_text="还有未读取的匹配，请输入更长的内容 / more rows matched than were read: give a longer text"
    )


class SearchView(APIView):
    """Search as people type: an exact code, then codes starting with the text, then part of a
    code, an address or a unit's name (3+ characters); in your jurisdiction, best first."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "q", str, required=True, description="编码、名称或地址 / a code, name or address"
            ),
            OpenApiParameter(
                "limit", int, description=f"每类条数 1–{search.MAX_LIMIT}（默认10）/ per kind"
            ),
        ],
        responses={200: SearchAnswerSerializer, **error_responses(400, 403)},
    )
    def get(self, request: Request) -> Response:
        limit = search.clean_limit(request.query_params.get("limit"))
        found = search.search(request.user, request.query_params.get("q", ""), limit)
        return Response(
            {
                "equipment": EquipmentSerializer(found.equipment, many=True).data,
                "units": UnitSerializer(found.units, many=True).data,
                "more": found.more,
            }
        )
