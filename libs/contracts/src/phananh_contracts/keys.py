"""Kafka record keys: what decides the partition, and so the order, of events."""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from phananh_contracts.errors import ContractViolation
from phananh_contracts.values import Channel, Identifier


class Key(BaseModel):
    """Base of Kafka record keys.

    The text form joins the field values with ``:`` in declaration order (only the last
    field may itself contain ``:``); the key bytes are that text in UTF-8. Every event about
    one report carries the same key, so Kafka keeps them in order on one partition.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def text_form(cls) -> str:
        """The text form as a pattern, e.g. ``"{channel}:{channel_message_id}"``."""
        return ":".join(f"{{{name}}}" for name in cls.model_fields)

    def to_text(self) -> str:
        return ":".join(str(value) for value in self.model_dump(mode="json").values())

    def to_bytes(self) -> bytes:
        return self.to_text().encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes) -> Self:
        """Parse key bytes; raise ContractViolation when they do not follow the text form."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ContractViolation(f"invalid {cls.__name__}: not UTF-8 ({error})") from None
        names = list(cls.model_fields)
        parts = text.split(":", len(names) - 1)
        if len(parts) != len(names):
            raise ContractViolation(
                f"invalid {cls.__name__}: expected {cls.text_form()!r}, got {text!r}"
            )
        try:
            return cls.model_validate(dict(zip(names, parts, strict=True)))
        except ValidationError as error:
            reason = ContractViolation.from_validation_error(error).reason
            raise ContractViolation(f"invalid {cls.__name__}: {reason}") from None


class ReportKey(Key):
    """Key of every topic about one report: the report id."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"report_id": "01GVHQ6JZ9Y3X5B7C2D4E6F8G0"}]}
    )

    report_id: Identifier = Field(description="Id of the report the event is about.")


class ChannelMessageKey(Key):
    """Key of channel messages before they become reports: channel and message id."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"channel": "zalo", "channel_message_id": "a3f9c1e27b8d4c05"}]
        }
    )

    channel: Channel = Field(description="Channel the message came through.")
    channel_message_id: str = Field(
        min_length=1,
        max_length=512,
        description="The channel's own id of the message (Zalo msg_id, email Message-ID …).",
    )


class CheckpointKey(Key):
    """Key of audit checkpoints: the audit writer that signed them."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"writer_id": "audit-1"}]})

    writer_id: Identifier = Field(description="Id of the audit writer instance.")


class RuleSetKey(Key):
    """Key of the compacted rules topic: which configuration; the newest value wins."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"scope": "routing"}]})

    scope: Identifier = Field(description="The configuration the rule set is for: 'routing'.")


class ContactKeyKey(Key):
    """Key of the compacted contact-keys topic: the key id; the newest record wins, so a
    destroyed key's record replaces the key itself."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"key_id": "ck-3f9c1e27b8d44c05a1b2c3d4e5f60718"}]}
    )

    key_id: Identifier = Field(description="Id of the contact key.")
