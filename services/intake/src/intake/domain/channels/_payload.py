"""What the channel parsers share: reading a raw body, validating it, building values."""

from __future__ import annotations

import base64
import json
import mimetypes
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from phananh_contracts import Attachment, RawChannelMessageReceived
from pydantic import BaseModel, BeforeValidator, StringConstraints, TypeAdapter, ValidationError

from intake.domain.model import Contact, PayloadError

ModelT = TypeVar("ModelT", bound=BaseModel)

MessageId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[!-~]+$")]
"""A sender's id of a message (client message id, ticket id, Zalo msg_id …): 1–200
printable ASCII characters without spaces."""

MediaUrl = Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://\S+$")]
"""An http(s) URL of a photo or file the channel already stored."""

_MESSAGE_ID: TypeAdapter[str] = TypeAdapter(MessageId)


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


_BLANK_IS_ABSENT = BeforeValidator(_blank_to_none)

OptionalTitle = Annotated[
    Annotated[str, StringConstraints(max_length=200)] | None, _BLANK_IS_ABSENT
]
"""An optional title (at most 200 characters); blank counts as absent."""

OptionalLine = Annotated[Annotated[str, StringConstraints(max_length=255)] | None, _BLANK_IS_ABSENT]
"""An optional one-line field (name, phone, email, ward …); blank counts as absent."""

OptionalAddress = Annotated[
    Annotated[str, StringConstraints(max_length=500)] | None, _BLANK_IS_ABSENT
]
"""An optional free-text address (at most 500 characters); blank counts as absent."""


# The built-in table only, not the host's /etc/mime.types: parsers stay deterministic.
_MEDIA_TYPES = mimetypes.MimeTypes()
_MEDIA_TYPES.add_type("image/webp", ".webp")


def body_bytes(raw: RawChannelMessageReceived) -> bytes:
    """The payload bytes of ``raw`` (its body decoded from base64 when so encoded)."""
    if raw.body_encoding == "base64":
        return base64.b64decode(raw.body)
    return raw.body.encode("utf-8")


def describe(error: ValidationError) -> str:
    """The problems of ``error``, without the offending input (it may be personal data)."""
    return "; ".join(
        f"{'.'.join(map(str, problem['loc'])) or 'body'}: {problem['msg']}"
        for problem in error.errors(include_url=False, include_input=False, include_context=False)
    )


def load(model: type[ModelT], data: str | bytes | Mapping[str, Any], what: str) -> ModelT:
    """``data`` (JSON text or a mapping) validated as ``model``, or PayloadError."""
    try:
        if isinstance(data, str | bytes):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as error:
        raise PayloadError(f"invalid {what}: {describe(error)}") from None


def json_string(body: bytes, *path: str) -> str | None:
    """The string at ``path`` in a JSON object, or None (not JSON, absent, not a string)."""
    try:
        value: object = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        return None
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None


def json_message_id(body: bytes, *path: str) -> str | None:
    """The message id at ``path`` in a JSON object, or None when absent or not an id."""
    return valid_message_id(json_string(body, *path))


def valid_message_id(value: object) -> str | None:
    """``value`` if it is a :data:`MessageId`, else None."""
    try:
        return _MESSAGE_ID.validate_python(value)
    except ValidationError:
        return None


def contact(
    *,
    phone: str | None = None,
    email: str | None = None,
    name: str | None = None,
    channel_user_ref: str | None = None,
) -> Contact | None:
    """A Contact of the given details, or None when there is none."""
    if phone is None and email is None and name is None and channel_user_ref is None:
        return None
    return Contact(phone=phone, email=email, name=name, channel_user_ref=channel_user_ref)


def media_type(url_or_name: str, fallback: str) -> str:
    """The media type a file name or URL path suggests, else ``fallback``.

    A URL Python cannot split (e.g. ``http://I[K``) suggests nothing; whether it is an
    acceptable attachment is :func:`attachment`'s to say."""
    try:
        path = urlsplit(url_or_name).path
    except ValueError:
        return fallback
    guessed, _ = _MEDIA_TYPES.guess_type(path, strict=False)
    return guessed or fallback


def attachment(url: str, media: str, name: str | None = None) -> Attachment:
    """An Attachment, or PayloadError when the URL or media type is not acceptable."""
    try:
        return Attachment(url=url, media_type=media, name=name[:255] if name else None)
    except ValidationError as error:
        raise PayloadError(f"invalid attachment: {describe(error)}") from None
