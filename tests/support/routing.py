"""Helpers for routing's tests: batches of deliveries as the platform hands them over."""

from __future__ import annotations

from typing import Any

from phananh_contracts import Event
from phananh_platform.delivery import RecordRef
from phananh_platform.subscribers import Delivery


def delivered(*events: Event[Any], first_offset: int = 0) -> list[Delivery[Any]]:
    """A batch of ``events`` as consumed records (partition 0, offsets from ``first_offset``)."""
    batch = []
    for number, event in enumerate(events):
        record = event.to_kafka()
        ref = RecordRef(
            topic=record.topic,
            partition=0,
            offset=first_offset + number,
            key=record.key,
            value=record.value,
            headers=tuple(record.headers),
        )
        batch.append(Delivery(event, ref))
    return batch
