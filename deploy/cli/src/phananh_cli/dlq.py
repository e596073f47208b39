"""``phananh dlq``: list, inspect and replay the records services dead-lettered.

A dead letter is the original record (key, value bytes, headers) plus ``x-dlq-*`` headers
saying why and where it came from (see ``phananh_contracts.DEAD_LETTER_HEADERS``).
Once the cause is fixed (a bug, a configuration), ``replay`` puts the original record
back on its source topic, unchanged except for the ``x-dlq-*`` headers, which are
replaced by ``x-replayed-from`` naming the dead letter. Consumers are idempotent on the
event id, so replaying a record twice, or one that was meanwhile handled, changes
nothing. Intake's dead letters are raw channel messages: ``show`` prints their bodies,
which may hold contacts in clear.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from phananh_contracts import (
    SERVICES,
    DeadLetterHeader,
    KafkaRecord,
    dead_letter_topic,
)
from phananh_platform.kafka import RecordProducer, read_topic
from phananh_platform.settings import KafkaSettings

REPLAYED_FROM = "x-replayed-from"
_DLQ_HEADERS = {str(header) for header in DeadLetterHeader}


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic."""

    service: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int

    def header(self, name: str) -> str | None:
        found = [value for header, value in self.headers if header == name]
        return found[-1].decode("utf-8", "replace") if found else None

    @property
    def reason(self) -> str:
        return self.header(DeadLetterHeader.REASON) or "(no reason recorded)"

    @property
    def source(self) -> tuple[str | None, str | None, str | None]:
        return (
            self.header(DeadLetterHeader.SOURCE_TOPIC),
            self.header(DeadLetterHeader.SOURCE_PARTITION),
            self.header(DeadLetterHeader.SOURCE_OFFSET),
        )

    @property
    def event_id(self) -> str | None:
        try:
            document = json.loads(self.value)
        except (ValueError, RecursionError):  # poison may be any bytes, nested any depth
            return None
        found = document.get("id") if isinstance(document, dict) else None
        if not isinstance(found, str):
            return None
        # JSON may escape a lone surrogate ("\ud800"): printable only once escaped again.
        return found.encode("utf-8", "backslashreplace").decode("utf-8")

    @property
    def ref(self) -> str:
        return f"{dead_letter_topic(self.service)}/{self.partition}/{self.offset}"

    def summary(self) -> dict[str, Any]:
        topic, partition, offset = self.source
        return {
            "dead_letter": self.ref,
            "offset": self.offset,
            "failed_at": self.header(DeadLetterHeader.FAILED_AT),
            "source": f"{topic}/{partition}/{offset}",
            "reason": self.reason,
            "error_class": self.header(DeadLetterHeader.ERROR_CLASS),
            "event_id": self.event_id,
            "replay_of": self.header(REPLAYED_FROM),
        }

    def details(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "key": None if self.key is None else self.key.decode("utf-8", "replace"),
            "headers": {name: value.decode("utf-8", "replace") for name, value in self.headers},
            "value": self.value.decode("utf-8", "replace"),
        }

    def replay_record(self) -> KafkaRecord:
        """The original record for its source topic; ValueError without a source topic."""
        topic = self.header(DeadLetterHeader.SOURCE_TOPIC)
        if not topic:
            raise ValueError(f"{self.ref} does not name its source topic")
        headers = [(name, value) for name, value in self.headers if name not in _DLQ_HEADERS]
        headers = [(name, value) for name, value in headers if name != REPLAYED_FROM]
        headers.append((REPLAYED_FROM, self.ref.encode()))
        return KafkaRecord(topic=topic, key=self.key or b"", value=self.value, headers=headers)


def services_named(names: Sequence[str]) -> list[str]:
    """The services asked for (all without names); ValueError naming an unknown one."""
    unknown = [name for name in names if name not in SERVICES]
    if unknown:
        raise ValueError(f"unknown service {unknown[0]!r}; known: {', '.join(SERVICES)}")
    return list(names) or list(SERVICES)


async def read_dead_letters(kafka: KafkaSettings, services: Iterable[str]) -> list[DeadLetter]:
    """Every record on the services' dead-letter topics, oldest first per service."""
    found: list[DeadLetter] = []
    for service in services:
        try:
            records = await read_topic(kafka, dead_letter_topic(service), client_id="phananh-dlq")
        except LookupError:
            continue  # never created: nothing was ever dead-lettered there
        found += [
            DeadLetter(
                service=service,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                value=record.value or b"",
                headers=tuple(record.headers),
                timestamp_ms=record.timestamp,
            )
            for record in records
        ]
    return found


async def replay(kafka: KafkaSettings, letters: Sequence[DeadLetter]) -> list[KafkaRecord]:
    """Publish each dead letter's original record to its source topic; the records sent."""
    records = [letter.replay_record() for letter in letters]  # all checked before sending
    producer = RecordProducer(kafka, client_id="phananh-dlq-replay")
    await producer.start()
    try:
        for record in records:
            await producer.publish(record)
    finally:
        await producer.stop()
    return records
