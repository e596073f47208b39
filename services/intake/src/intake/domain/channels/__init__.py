"""Channel parsers: a raw channel event in, the citizen messages it carries out.

Each channel has a module here exposing ``parse(raw) -> list[ChannelMessage]``; it raises
:class:`~intake.domain.model.PayloadError` for a payload that cannot yield a message.
Parsers are pure and deterministic: the HTTP front runs them to refuse bad input at
once, and the normalizer runs them again on the raw topic with the same result.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from phananh_contracts import Channel, RawChannelMessageReceived, RejectionReason

from intake.domain.model import ChannelMessage, PayloadError

Parser = Callable[[RawChannelMessageReceived], list[ChannelMessage]]

MODULES: dict[Channel, str] = {
    channel: f"intake.domain.channels.{channel.value}" for channel in Channel
}


def parser_for(channel: Channel) -> Parser:
    """The parser of ``channel``."""
    try:
        module = import_module(MODULES[channel])
    except (KeyError, ModuleNotFoundError) as missing:
        raise PayloadError(
            f"no parser for channel {channel!s}", RejectionReason.UNSUPPORTED_CHANNEL
        ) from missing
    parse: Parser = module.parse
    return parse


def parse_raw(raw: RawChannelMessageReceived) -> list[ChannelMessage]:
    """The citizen messages carried by ``raw`` (at least one), or PayloadError."""
    messages = parser_for(raw.channel)(raw)
    if not messages:
        raise PayloadError("the payload holds no citizen message")
    return messages
