"""Channel parsers: a raw channel event in, the citizen messages it carries out.

Each channel has a module here exposing ``parse(raw) -> list[ChannelMessage]``; it raises
:class:`~intake.domain.model.PayloadError` for a payload that cannot yield a message.
Parsers are pure and deterministic: the HTTP front runs them to refuse bad input at
once, and the normalizer runs them again on the raw topic with the same result.
:data:`PARSERS` names the parser of every channel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from phananh_contracts import Channel, RawChannelMessageReceived, RejectionReason

from intake.domain.channels import (
    city_app,
    collaborator,
    email,
    facebook,
    hotline,
    open311,
    web,
    zalo,
)
from intake.domain.model import ChannelMessage, PayloadError

Parser = Callable[[RawChannelMessageReceived], list[ChannelMessage]]

PARSERS: Mapping[Channel, Parser] = {
    Channel.APP: city_app.parse,
    Channel.ZALO: zalo.parse,
    Channel.FACEBOOK: facebook.parse,
    Channel.EMAIL: email.parse,
    Channel.HOTLINE: hotline.parse,
    Channel.WEB: web.parse,
    Channel.COLLABORATOR: collaborator.parse,
    Channel.OPEN311: open311.parse,
}
"""The parser of each channel."""


def parser_for(channel: Channel) -> Parser:
    """The parser of ``channel``."""
    try:
        return PARSERS[channel]
    except KeyError:
        raise PayloadError(
            f"no parser for channel {channel!s}", RejectionReason.UNSUPPORTED_CHANNEL
        ) from None


def parse_raw(raw: RawChannelMessageReceived) -> list[ChannelMessage]:
    """The citizen messages carried by ``raw`` (at least one), or PayloadError."""
    messages = parser_for(raw.channel)(raw)
    if not messages:
        raise PayloadError("the payload holds no citizen message")
    return messages
