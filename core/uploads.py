"""Uploaded pictures (an activity's banner): raster images only, told by their name and their first bytes.

The files are served from the site's own host, with a type taken from the name: an HTML or SVG file sent
as a "picture" would run its script in a staff member's session. A picture must end in one of
``IMAGE_EXTENSIONS`` and begin as a file of that kind does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.validators import FileExtensionValidator
from django.utils.translation import gettext_lazy as _

IMAGE_EXTENSIONS = ("png", "jpg", "jpeg", "gif", "webp")

_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"),
    "webp": (b"RIFF",),  # then 4 bytes of length and "WEBP"
}

image_extension = FileExtensionValidator(list(IMAGE_EXTENSIONS))


def image_content(upload: File) -> None:
    """A new upload's first bytes are those of the picture kind its name says. A picture stored already
    was checked when it came (and may be gone from storage): it is not read again."""
    if getattr(upload, "_committed", False):
        return
    extension = upload.name.rsplit(".", 1)[-1].lower() if upload.name and "." in upload.name else ""
    signatures = _SIGNATURES.get(extension)
    if signatures is None:
        return  # the extension validator refuses it
    position = upload.tell() if hasattr(upload, "tell") else 0
    upload.seek(0)
    head = upload.read(12)
    upload.seek(position)
    kind_ok = any(head.startswith(signature) for signature in signatures)
    if extension == "webp":
        kind_ok = kind_ok and head[8:12] == b"WEBP"
    if not kind_ok:
        raise ValidationError(
            _("The file is not a %(kind)s picture."), code="invalid_image", params={"kind": extension.upper()}
        )


IMAGE_VALIDATORS: list[Callable[[Any], None]] = [image_extension, image_content]
