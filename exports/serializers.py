"""API shapes of the export jobs, as the OpenAPI schema documents them."""

from __future__ import annotations

from rest_framework import serializers

from exports.models import ExportJob


class ExportJobSerializer(serializers.Serializer):
    """An export job as its status endpoint answers it (exports.views.describe_job)."""

    id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=ExportJob.State.choices)
    state_label = serializers.CharField()
    layer = serializers.CharField(help_text="the layer's Chinese / English title")
    format = serializers.CharField(help_text="the format's title")
    crs = serializers.CharField(allow_null=True)
    estimate = serializers.IntegerField(help_text="rows, as estimated when it was asked for")
    done = serializers.IntegerField(help_text="rows written so far")
    total = serializers.IntegerField(allow_null=True, help_text="rows to write, once counted")
    error = serializers.CharField(allow_blank=True, help_text="why a failed job failed")
    file_name = serializers.CharField(allow_blank=True)
    file_size = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    status_url = serializers.CharField()
    download_url = serializers.CharField(allow_null=True, help_text="once the job is done")
