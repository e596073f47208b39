"""Vietnamese message templates (Jinja2), one file per message, kept in configuration.

``<templates_dir>/<template-id>.j2`` defines blocks:

* ``subject`` – the email subject (one line);
* ``text``    – the full message (app push, Zalo, Facebook, email body);
* ``sms``     – the short form for SMS and ZNS (one or two segments once diacritics are
  stripped);
* optionally a block named after a delivery channel (``app``, ``zalo``, ``facebook``,
  ``email``) that replaces ``text`` there.

Filters: ``ngay_gio`` (``17 giờ 00, thứ Ba, ngày 21/3/2023``) and ``ngay`` (``21/03/2023``),
both on the wall clock of the configured time zone. Undefined names fail loudly
(``StrictUndefined``); templates run in Jinja's sandbox. Every template is rendered once
with sample facts at start, so a broken template stops the service, not a message.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment

from notify.domain.notices import TemplateId
from notify.domain.text import vietnamese_date, vietnamese_datetime

REQUIRED_BLOCKS = ("subject", "text", "sms")
CHANNEL_BLOCKS = ("app", "zalo", "facebook", "email")


class TemplateProblem(ValueError):
    """A template is missing, broken, or cannot render (the message names it)."""


@dataclass(frozen=True)
class RenderedMessage:
    """One message in every form a provider may need."""

    subject: str
    text: str
    short: str


class TemplateBook:
    """The templates of one city, loaded from a directory."""

    def __init__(self, directory: Path, zone: ZoneInfo) -> None:
        self.directory = directory
        self.zone = zone
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(directory), encoding="utf-8"),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # loaded at start like the rest of the configuration
        )
        self.env.filters["ngay_gio"] = self._datetime
        self.env.filters["ngay"] = self._date

    def _datetime(self, value: datetime) -> str:
        return vietnamese_datetime(value, self.zone)

    def _date(self, value: datetime) -> str:
        return vietnamese_date(value, self.zone)

    def render(
        self, template_id: TemplateId | str, channel: str, context: Mapping[str, Any]
    ) -> RenderedMessage:
        """The message ``template_id`` for ``channel``, in NFC."""
        name = f"{template_id}.j2"
        try:
            template = self.env.get_template(name)
            blocks = template.blocks
            missing = [block for block in REQUIRED_BLOCKS if block not in blocks]
            if missing:
                raise TemplateProblem(f"{self.directory / name}: missing block(s) {missing}")
            body_block = channel if channel in CHANNEL_BLOCKS and channel in blocks else "text"

            def block(block_name: str) -> str:
                render = blocks[block_name]
                return "".join(render(template.new_context(dict(context))))

            subject = " ".join(block("subject").split())
            text = _tidy(block(body_block))
            short = " ".join(block("sms").split())
        except TemplateNotFound:
            raise TemplateProblem(f"{self.directory / name}: no such template") from None
        except TemplateError as error:
            raise TemplateProblem(f"{self.directory / name}: {error}") from None
        return RenderedMessage(_nfc(subject), _nfc(text), _nfc(short))

    def check(self, samples: Mapping[TemplateId, Mapping[str, Any]]) -> None:
        """Render every template for every channel with sample facts; raise on a problem."""
        problems: list[str] = []
        for template_id in TemplateId:
            for channel in (*CHANNEL_BLOCKS, "sms"):
                try:
                    self.render(template_id, channel, samples[template_id])
                except TemplateProblem as problem:
                    problems.append(str(problem))
                    break
        if problems:
            raise TemplateProblem(
                "the message templates cannot be used:\n  " + "\n  ".join(problems)
            )


def _tidy(text: str) -> str:
    """Lines stripped, at most one blank line in a row, none at either end."""
    lines: list[str] = []
    for line in (raw.strip() for raw in text.splitlines()):
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)
