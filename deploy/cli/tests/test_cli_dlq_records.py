"""What ``phananh dlq`` says of dead letters whatever their bytes (poison is any bytes)."""

from __future__ import annotations

import json

import pytest
from phananh_cli.dlq import DeadLetter


def _letter(value: bytes) -> DeadLetter:
    return DeadLetter("routing", 0, 7, None, value, (("x-dlq-reason", b"not an event"),), 0)


@pytest.mark.parametrize(
    "value",
    [b"[" * 100_000, b"\xff\xfe", b"", b"[1, 2]", b'{"id": 12}', b'{"id": "x"'],
)
def test_a_dead_letter_that_is_not_an_event_is_listed_without_an_event_id(value: bytes) -> None:
    summary = _letter(value).summary()

    assert summary["event_id"] is None
    assert summary["reason"] == "not an event"
    assert json.dumps(summary)


def test_a_dead_letter_that_is_an_event_is_listed_with_its_id() -> None:
    assert _letter(b'{"id": "e-1", "type": "t"}').summary()["event_id"] == "e-1"


def test_an_id_holding_a_lone_surrogate_is_listed_escaped() -> None:
    summary = _letter(b'{"id": "e-\\ud800-1"}').summary()

    assert summary["event_id"] == "e-\\ud800-1"
    assert json.dumps(summary, ensure_ascii=False).encode("utf-8")
