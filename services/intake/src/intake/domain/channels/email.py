"""Email: one message as raw RFC 5322 bytes (the raw event's body, base64-encoded).

* The text is the ``text/plain`` body, else the ``text/html`` one without its tags,
  decoded from quoted-printable or base64 and from its charset (utf-8, windows-1258 …;
  windows-1258 leaves tone marks as combining characters, NFC comes later). A charset
  Python does not know (e.g. VISCII) is read as UTF-8 with replacement characters.
* The subject (encoded words decoded) is the title; ``From`` gives the contact.
* ``In-Reply-To`` (else the last of ``References``) names the message answered.
* Image, video and audio parts become attachments. Their bytes stay in the raw message:
  the URL names the part, ``cid://<Content-ID>`` (else its file name, else
  ``part-<n>``, n counting the parts from 1), percent-encoded.

The message id is the ``Message-ID`` without its angle brackets (:func:`message_id`).
"""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import MIMEPart
from email.parser import BytesParser
from urllib.parse import quote

from phananh_contracts import Attachment, Channel, RawChannelMessageReceived

from intake.domain.channels._payload import attachment, body_bytes, contact
from intake.domain.model import ChannelMessage, Contact, PayloadError
from intake.domain.text import strip_html

MEDIA_MAINTYPES = frozenset({"image", "video", "audio"})
_ANGLED_ID = re.compile(r"<([^<>\s]+)>")
_MAX_MESSAGE_ID = 512


def message_id(raw_email: bytes) -> str | None:
    """The ``Message-ID`` of an email without its angle brackets, or None when unusable."""
    headers = BytesParser(policy=policy.compat32).parsebytes(raw_email, headersonly=True)
    value = str(headers.get("message-id", "")).strip()
    angled = _ANGLED_ID.search(value)
    found = angled.group(1) if angled else value
    if not found or len(found) > _MAX_MESSAGE_ID or any(char.isspace() for char in found):
        return None
    return found


def parse(raw: RawChannelMessageReceived) -> list[ChannelMessage]:
    """The citizen message of a raw email; a message the parser chokes on is refused."""
    try:
        return _parse(raw)
    except PayloadError:
        raise
    except Exception as error:  # the email package raises anything on hostile headers
        raise PayloadError(f"the email cannot be read: {type(error).__name__}") from None


def _parse(raw: RawChannelMessageReceived) -> list[ChannelMessage]:
    message = message_from_bytes(body_bytes(raw), policy=policy.default)
    body = message.get_body(preferencelist=("plain", "html"))
    subject = str(message.get("subject", "")).strip()
    return [
        ChannelMessage(
            channel=Channel.EMAIL,
            channel_message_id=raw.channel_message_id,
            received_at=raw.received_at,
            text="" if body is None else _text(body),
            title=subject or None,
            contact=_sender(message),
            attachments=_attachments(message),
            reply_to_channel_message_id=_answered(message),
        )
    ]


def _sender(message: MIMEPart) -> Contact | None:
    addresses = getattr(message["from"], "addresses", ())
    if not addresses:
        return None
    return contact(email=addresses[0].addr_spec or None, name=addresses[0].display_name or None)


def _text(part: MIMEPart) -> str:
    try:
        text = str(part.get_content())
    except LookupError:  # a charset Python does not know
        payload = part.get_payload(decode=True)
        text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    return strip_html(text) if part.get_content_subtype() == "html" else text


def _answered(message: MIMEPart) -> str | None:
    in_reply_to = _ANGLED_ID.findall(str(message.get("in-reply-to", "")))
    references = _ANGLED_ID.findall(str(message.get("references", "")))
    answered = in_reply_to[:1] or references[-1:]
    return answered[0] if answered and len(answered[0]) <= _MAX_MESSAGE_ID else None


def _attachments(message: MIMEPart) -> tuple[Attachment, ...]:
    found = []
    for number, part in enumerate(message.walk(), start=1):
        if part.get_content_maintype() not in MEDIA_MAINTYPES:
            continue
        name = part.get_filename()
        reference = str(part.get("content-id", "")).strip().strip("<>") or name or f"part-{number}"
        found.append(
            attachment(f"cid://{quote(reference, safe='@.-_')}", part.get_content_type(), name)
        )
    return tuple(found)
