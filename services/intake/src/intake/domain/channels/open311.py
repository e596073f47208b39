"""Open311 GeoReport v2: the form of a ``POST requests`` call, as the HTTP front received it.

The body is the ``application/x-www-form-urlencoded`` form without its ``api_key``:

* ``service_code`` (required) becomes the category hint;
* a location is required: ``lat`` and ``long``, ``address_string`` or ``address_id`` (the
  city has no address repository, so an ``address_id`` is kept as text for triage);
* ``description`` (required here, since a report is the citizen's text; at most 4000
  characters as the specification says) becomes the text;
* ``attribute[ward]`` (the only attribute the city defines) becomes the ward hint;
* ``first_name``, ``last_name``, ``email`` and ``phone`` become the contact;
* ``media_url`` (an absolute http(s) URL) becomes an attachment.

``jurisdiction_id``, ``device_id``, ``account_id`` and other attributes are ignored: they
stay in the raw event only. A field given several times counts with its first non-blank value.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import parse_qsl, unquote, urlsplit

from phananh_contracts import Attachment, Channel, GeoPoint, RawChannelMessageReceived
from phananh_contracts import RejectionReason as Reason
from pydantic import ValidationError

from intake.domain.model import ChannelMessage, Contact, PayloadError

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
WARD_ATTRIBUTE = "ward"
"""Code of the service attribute naming the ward or commune (phường, xã)."""
MAX_DESCRIPTION = 4000

_ATTRIBUTE = re.compile(r"attribute\[([^\]]+)\](?:\[\])?")
_MEDIA_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".pdf": "application/pdf",
}
"""Media types by file extension; fixed here (not ``mimetypes``) so parsing is deterministic."""


def parse(raw: RawChannelMessageReceived) -> list[ChannelMessage]:
    """The citizen message of an Open311 ``POST requests`` form, or PayloadError."""
    form = _form(raw)
    service_code = form.get("service_code")
    if service_code is None:
        raise PayloadError("service_code is required")
    description = form.get("description")
    if description is None:
        raise PayloadError("description is required: a report needs the citizen's text")
    if len(description) > MAX_DESCRIPTION:
        raise PayloadError(
            f"description is longer than {MAX_DESCRIPTION} characters ({len(description)})",
            Reason.TOO_LONG,
        )
    point = _point(form.get("lat"), form.get("long"))
    address_text = form.get("address_string")
    if address_text is None and "address_id" in form:
        address_text = f"Mã địa chỉ: {form['address_id']}"
    if point is None and address_text is None:
        raise PayloadError("a location is required: lat and long, address_string or address_id")
    attributes = {
        match[1]: value for name, value in form.items() if (match := _ATTRIBUTE.fullmatch(name))
    }
    media_url = form.get("media_url")
    return [
        ChannelMessage(
            channel=Channel.OPEN311,
            channel_message_id=raw.channel_message_id,
            received_at=raw.received_at,
            text=description,
            contact=_contact(form),
            point=point,
            address_text=address_text,
            ward_hint=attributes.get(WARD_ATTRIBUTE),
            category_hint=service_code,
            attachments=(_attachment(media_url),) if media_url else (),
        )
    ]


def _form(raw: RawChannelMessageReceived) -> dict[str, str]:
    """Each field's first non-blank value, stripped."""
    if raw.content_type.partition(";")[0].strip().lower() != FORM_CONTENT_TYPE:
        raise PayloadError(f"an Open311 request is a form ({FORM_CONTENT_TYPE})")
    if raw.body_encoding != "utf-8":
        raise PayloadError("an Open311 form is text: body_encoding must be utf-8")
    try:
        pairs = parse_qsl(raw.body, errors="strict")
    except UnicodeDecodeError:
        raise PayloadError("the form is not valid UTF-8 once percent-decoded") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if stripped := value.strip():
            form.setdefault(name, stripped)
    return form


def _point(lat: str | None, long: str | None) -> GeoPoint | None:
    if lat is None and long is None:
        return None
    if lat is None or long is None:
        raise PayloadError("lat and long must be given together")
    try:
        return GeoPoint(lat=float(lat), lon=float(long))
    except ValueError:  # not a number, or out of range (pydantic's ValidationError)
        raise PayloadError(
            "lat and long must be WGS 84 decimal degrees (lat within ±90, long within ±180)"
        ) from None


def _contact(form: dict[str, str]) -> Contact | None:
    # Vietnamese names put the family name (last_name, họ) before the given name (tên).
    name = " ".join(form[key] for key in ("last_name", "first_name") if key in form) or None
    contact = Contact(phone=form.get("phone"), email=form.get("email"), name=name)
    return None if contact == Contact() else contact


def _attachment(url: str) -> Attachment:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PayloadError("media_url must be an absolute http or https URL")
    path = PurePosixPath(unquote(parts.path))
    try:
        return Attachment(
            url=url,
            media_type=_MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream"),
            name=path.name[:255] or None,
        )
    except ValidationError:
        raise PayloadError(
            "media_url is not a usable URL (no spaces, at most 2048 characters)"
        ) from None
