from collections.abc import Mapping

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know: a misspelt or workflow-owned field (``status``,
    ``revoke_unsued``) is an error, never silently dropped."""

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, Mapping) else []
        if unknown:
            raise serializers.ValidationError({name: [_("This field cannot be set.")] for name in unknown})
        return super().to_internal_value(data)
