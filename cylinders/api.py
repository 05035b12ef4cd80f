"""The cylinders' JSON endpoints: the stations' machine endpoint for batches of fillings, and the
lookup of a cylinder by its tag."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.shortcuts import get_object_or_404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import authentication, exceptions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.policy import Action, Allows
from common.api import error_responses
from registry.models import Unit

from . import reads, services
from .models import Cylinder
from .rules import Rule

STATION_SCHEME = "station"


class StationKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Station <key>`: the station a key was issued to (services.issue_station_token)
    is the request's `auth`; no user signs in."""

    def authenticate(self, request):
        scheme, _, key = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
        if scheme.lower() != STATION_SCHEME:
            return None
        station = services.station_for_key(key.strip()) if key.strip() else None
        if station is None:
            raise exceptions.AuthenticationFailed(
                "充装单位令牌无效、已过期或已被替换 / the station key is not valid, expired or replaced"
            )
        return AnonymousUser(), station

    def authenticate_header(self, request) -> str:
        return "Station"


class StationKeyScheme(OpenApiAuthenticationExtension):
    """The API schema names the station key as an API key in the Authorization header."""

    target_class = StationKeyAuthentication
    name = "stationKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "充装站密钥 / a filling station's key: `Station <key>` (docs/cylinders.md)",
        }


class StationOrUser(Allows):
    """A station's own key may post its fillings; a signed-in user needs the action."""

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, Unit):
            return True
        return super().has_permission(request, view)


class FillingSerializer(serializers.Serializer):
    tag = serializers.CharField(max_length=64, help_text="电子标签 / identity tag (RFID, QR)")
    filled_at = serializers.DateTimeField(help_text="充装时间 / ISO 8601; no offset: Beijing time")
    medium = serializers.CharField(max_length=32, help_text="充装介质 / medium")
    quantity_kg = serializers.DecimalField(max_digits=8, decimal_places=2)
    check_result = serializers.ChoiceField(
        ["pass", "fail"], help_text="充装前检查 / pre-fill check"
    )
    operator_certificate = serializers.CharField(max_length=32, help_text="作业人员证号")


class BatchSerializer(serializers.Serializer):
    station = serializers.IntegerField(
        required=False, help_text="充装单位 id: for a user; a station's key names its own"
    )
    fillings = FillingSerializer(many=True, help_text=f"at most {services.MAX_BATCH}")


class RowReportSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    tag = serializers.CharField()
    filled_at = serializers.DateTimeField()
    status = serializers.ChoiceField(["recorded", "duplicate"])
    violations = serializers.ListField(child=serializers.ChoiceField(Rule.choices))


class ReportSerializer(serializers.Serializer):
    station = serializers.IntegerField()
    recorded = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    violations = serializers.IntegerField()
    rows = RowReportSerializer(many=True)


class FillingBatch(APIView):
    """POST a station's fillings: all rows read first (any problem: 400 naming `fillings[i].field`,
    nothing stored), then stored with the filling rules applied; a repeat of station + tag + time
    is reported as a duplicate and adds nothing, so a station may resend a batch safely."""

    authentication_classes = [StationKeyAuthentication, SessionAuthentication]
    permission_classes = [StationOrUser(Action.RECORD_FILLING)]

    @extend_schema(
        request=BatchSerializer,
        responses={201: ReportSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        if isinstance(request.auth, Unit):
            station, acting_user = request.auth, None
        else:
            raw = body.get("station")
            if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).isdigit():
                raise exceptions.ValidationError(
                    {"station": ["应为充装单位 id / expected a station id"]}
                )
            station = get_object_or_404(Unit.objects.visible_to(request.user), pk=int(raw))
            acting_user = request.user
        report = services.record_fillings(station, body.get("fillings"), acting_user=acting_user)
        data = {
            "station": station.pk,
            "recorded": report.recorded,
            "duplicates": report.duplicates,
            "violations": report.violations,
            "rows": report.rows,
        }
        return Response(data, status=201)


class CylinderSerializer(serializers.ModelSerializer):
    owner_name = serializers.CharField(source="owner.name")
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = Cylinder
        fields = [
            "id", "tag", "maker_name", "maker_code", "serial_number", "made_on", "kind", "volume_l",
            "working_pressure_mpa", "design_life_years", "scrap_on", "last_inspected_on",
            "next_inspection_due", "owner", "owner_name", "region", "status", "overdue",
        ]  # fmt: skip

    def get_overdue(self, cylinder: Cylinder) -> bool:
        return cylinder.next_inspection_due < self.context["today"]


class CylinderLookup(APIView):
    """A cylinder of the jurisdiction by its tag (404: unknown here, or another jurisdiction's)."""

    @extend_schema(
        parameters=[OpenApiParameter("tag", str, required=True, description="电子标签 / tag")],
        responses={200: CylinderSerializer, **error_responses(400, 403, 404)},
    )
    def get(self, request):
        from django.utils import timezone

        tag = request.query_params.get("tag", "").strip()
        if not tag or len(tag) > 64:
            raise exceptions.ValidationError(
                {"tag": ["应为 1–64 个字符的电子标签 / expected a tag"]}
            )
        cylinder = reads.find_cylinder(request.user, tag)
        if cylinder is None:
            raise exceptions.NotFound("本辖区无此气瓶 / no such cylinder in your jurisdiction")
        return Response(CylinderSerializer(cylinder, context={"today": timezone.localdate()}).data)
