"""The inspection bodies' feed endpoint: a batch of inspection and supervisory-inspection results,
answered with a per-record report (feed.py)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import authentication, exceptions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.policy import Action, Allows
from accounts.tokens import TokenRefused, token_user
from common.api import error_responses, whole_number
from common.serializers import ErrorEnvelopeSerializer
from registry.models import InspectionConclusion, Unit, UnitRole

from . import feed
from .models import FeedAccount, RecordStatus, Stage

MAX_ID = 2**31 - 1


class FeedTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>`: the user an API token speaks for (accounts.tokens), for a body
    its feed account. The same tokens the OGC API and the exchange read, through DRF."""

    def authenticate(self, request):
        try:
            user = token_user(request._request)
        except TokenRefused as refused:
            raise exceptions.AuthenticationFailed(str(refused)) from None
        return None if user is None else (user, None)

    def authenticate_header(self, request) -> str:
        return "Token"


class FeedTokenScheme(OpenApiAuthenticationExtension):
    target_class = FeedTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "API 令牌 / an API token: `Token <key>` (docs/inspections.md)",
        }


class FeedRecordSerializer(serializers.Serializer):
    report_number = serializers.CharField(max_length=feed.REPORT_LENGTH, help_text="报告编号")
    kind = serializers.ChoiceField(list(feed.KINDS), help_text="定期检验 / 监督检验")
    device_code = serializers.CharField(max_length=32, help_text="设备代码或注册代码")
    inspected_on = serializers.DateField()
    conclusion = serializers.ChoiceField(InspectionConclusion.choices)
    stage = serializers.ChoiceField(Stage.choices, required=False, help_text="监督检验阶段")
    certificate_number = serializers.CharField(max_length=40, required=False)
    defects = serializers.IntegerField(min_value=0, required=False)
    defect_notes = serializers.CharField(required=False)


class FeedBatchSerializer(serializers.Serializer):
    body = serializers.IntegerField(
        required=False, help_text="检验机构 id: for a signed-in user; a body's token names its own"
    )
    records = FeedRecordSerializer(many=True, help_text=f"at most {feed.MAX_BATCH}")


class RecordReportSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    report_number = serializers.CharField()
    status = serializers.ChoiceField(RecordStatus.choices)
    errors = serializers.DictField(help_text="field → [{rule, message, suggestion}] when refused")


class FeedReportSerializer(serializers.Serializer):
    batch = serializers.IntegerField()
    body = serializers.IntegerField()
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    refused = serializers.IntegerField()
    records = RecordReportSerializer(many=True)


class FeedBatchView(APIView):
    """POST a body's batch of results. Each record is accepted (applied through the services),
    acknowledged as a repeat (same report number, same content: nothing added) or refused with its
    reasons; a changed repeat is refused. A batch that is not a list, or too large, is refused
    whole (400, 413)."""

    authentication_classes = [FeedTokenAuthentication, SessionAuthentication]
    permission_classes = [Allows(Action.RECORD_INSPECTION)]

    @extend_schema(
        request=FeedBatchSerializer,
        responses={
            200: FeedReportSerializer,
            **error_responses(400, 401, 403, 404),
            413: OpenApiResponse(ErrorEnvelopeSerializer, description="the batch is too large"),
        },
    )
    def post(self, request):
        body_data = request.data if isinstance(request.data, dict) else {}
        account = FeedAccount.objects.filter(user=request.user).select_related("body").first()
        if account is not None:
            body = account.body
        else:
            raw = body_data.get("body")
            # An id past the integer column's range is as wrong as a word (never a database error).
            if isinstance(raw, bool) or not isinstance(raw, int | str):
                raise exceptions.ValidationError(
                    {"body": ["应为检验机构 id / expected an inspection body's id"]}
                )
            bodies = Unit.objects.visible_to(request.user).with_role(UnitRole.INSPECTION)
            body = get_object_or_404(bodies, pk=whole_number(str(raw), "body", 1, MAX_ID))
        report = feed.receive_batch(body, body_data.get("records"), acting_user=request.user)
        batch = report.batch
        return Response({
            "batch": batch.pk, "body": body.pk, "accepted": batch.accepted,
            "duplicates": batch.duplicates, "refused": batch.refused, "records": report.records,
        })  # fmt: skip
