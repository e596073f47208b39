"""Publishing intake's events on Kafka."""

from __future__ import annotations

from phananh_contracts import RawChannelMessageReceivedEvent
from phananh_platform.kafka import RecordProducer


class KafkaRawPublisher:
    """The HTTP front's ``RawPublisher``: returns once the broker has the record (acks=all)."""

    def __init__(self, producer: RecordProducer) -> None:
        self.producer = producer

    async def publish_raw(self, event: RawChannelMessageReceivedEvent) -> None:
        await self.producer.publish(event.to_kafka())
