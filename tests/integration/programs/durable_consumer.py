"""A consumer built exactly like a service, run as its own OS process by tests.

It consumes report events from ``--topic`` in consumer group ``--group``
through the platform's runtime (delivery guard, dead letters, commit after the
effect). Its effect is one document per event id in ``<collection>`` (written
with ``insert_once``, so a redelivered event writes nothing twice) and one
document per delivery in ``<collection>_deliveries`` (so the test can see
that duplicates were delivered and absorbed).

``--crash-after N`` ends the process abruptly (``os._exit``) right after the
N-th effect became durable and before its offset is committed: the worst
moment for a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from typing import Any

from faststream.kafka import KafkaMessage
from phananh_contracts import REPORTS_TOPIC, decode_event
from phananh_platform.kafka import durable_subscriber_options
from phananh_platform.logs import configure_logging
from phananh_platform.mongo import insert_once
from phananh_platform.runtime import build_service
from phananh_platform.settings import ServiceSettings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--service", required=True, help="name; the DLQ is pakn.dlq.<name>.v1")
    parser.add_argument("--collection", required=True)
    parser.add_argument("--crash-after", type=int, default=0)
    args = parser.parse_args()
    configure_logging(service=args.service, instance=str(os.getpid()), level="INFO", fmt="json")
    asyncio.run(run(args))


async def run(args: argparse.Namespace) -> None:
    settings = ServiceSettings(retry_backoff_max_s=1.0)
    app = build_service(args.service, settings, uses_database=True)
    assert app.mongo is not None
    database = app.mongo[settings.mongodb.database]
    effects = database[args.collection]
    deliveries = database[f"{args.collection}_deliveries"]
    written = 0

    @app.broker.subscriber(args.topic, **durable_subscriber_options(args.group))
    async def handle(body: bytes, message: KafkaMessage) -> None:
        nonlocal written
        event = decode_event(REPORTS_TOPIC.name, body)
        record: Any = message.raw_message
        await deliveries.insert_one({"event_id": event.id, "pid": os.getpid()})
        if await insert_once(
            effects,
            {"_id": event.id, "partition": record.partition, "offset": record.offset},
        ):
            written += 1
            if written == args.crash_after:
                os._exit(70)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with app.running():
        await stop.wait()


if __name__ == "__main__":
    main()
