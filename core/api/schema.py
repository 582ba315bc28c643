from drf_spectacular.openapi import AutoSchema as BaseAutoSchema


class AutoSchema(BaseAutoSchema):
    """Names nested serializers after their view (``TokenApi.InputSerializer`` -> ``TokenInput``), so the
    one-view-one-serializer style gives distinct OpenAPI components."""

    def _get_serializer_name(self, serializer, direction, bypass_extensions=False):
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        cls = serializer if isinstance(serializer, type) else serializer.__class__
        owner = cls.__qualname__.split(".")[0] if "." in cls.__qualname__ else ""
        if owner and not name.startswith(owner):
            name = owner.removesuffix("Api") + name
        return name
