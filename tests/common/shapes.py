"""Check that a JSON answer has exactly the fields its typed serializer documents."""

from __future__ import annotations

from rest_framework import serializers


def assert_shape(documented: serializers.Field, value, path: str = "") -> None:
    """Every serializer level names exactly the answer's keys; lists are checked item by item."""
    if value is None:
        assert documented.allow_null, f"{path or 'answer'} is null, documented as not nullable"
        return
    if isinstance(documented, serializers.ListSerializer):
        assert isinstance(value, list), path
        for index, item in enumerate(value):
            assert_shape(documented.child, item, f"{path}.{index}")
    elif isinstance(documented, serializers.Serializer):
        assert isinstance(value, dict), path
        assert set(value) == set(documented.fields), (path, set(value) ^ set(documented.fields))
        for name, field in documented.fields.items():
            assert_shape(field, value[name], f"{path}.{name}" if path else name)
