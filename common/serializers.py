"""API shapes every app shares: the error envelope, as the OpenAPI schema documents it."""

from __future__ import annotations

from rest_framework import serializers


class ErrorItemSerializer(serializers.Serializer):
    """One problem of a field or parameter."""

    rule = serializers.CharField(
        help_text="short stable rule id a client may test, e.g. `invalid`, `required`, "
        "`device_code.length`"
    )
    message = serializers.CharField(help_text="what to do about it: Chinese, then English")
    suggestion = serializers.CharField(
        allow_blank=True, help_text="a value that would be accepted, or empty"
    )


class ErrorEnvelopeSerializer(serializers.Serializer):
    """Every error answer of every SEGIS API."""

    errors = serializers.DictField(
        child=serializers.ListField(child=ErrorItemSerializer()),
        help_text="field or parameter → its problems, all at once",
    )
