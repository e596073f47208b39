"""Structured logs: one JSON object per line, with the message's coordinates.

Handlers and the delivery guard pass ``extra={"topic": …, "partition": …,
"offset": …, "event_id": …, "report_id": …}``; those keys are copied into the
line. While a consumer handles a message, the delivery guard also sets the message's
coordinates as the *message context* (:func:`message_context`): every line logged
meanwhile, by any logger, carries its topic, partition, offset, event id and report id
without the handler passing them. Personal data (contacts, names, free text from
citizens) is never passed to a logger; see docs/architecture.md, "Privacy".
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime

CONTEXT_KEYS = (
    "service",
    "instance",
    "topic",
    "partition",
    "offset",
    "event_id",
    "report_id",
    "attempt",
    "dead_letter_topic",
)


_MESSAGE: ContextVar[Callable[[], Mapping[str, object]] | None] = ContextVar(
    "phananh_message", default=None
)


@contextlib.contextmanager
def message_context(describe: Callable[[], Mapping[str, object]]) -> Iterator[None]:
    """Lines logged inside get the keys ``describe()`` returns (computed only when a line
    is written), unless the line names them itself."""
    token = _MESSAGE.set(describe)
    try:
        yield
    finally:
        _MESSAGE.reset(token)


def current_message() -> Mapping[str, object]:
    """The coordinates of the message being handled in this context, if any."""
    describe = _MESSAGE.get()
    if describe is None:
        return {}
    try:
        return describe()
    except Exception:  # naming the message must never break a log line
        return {}


class JsonFormatter(logging.Formatter):
    """Formats a record as a single JSON line."""

    def __init__(self, *, service: str, instance: str) -> None:
        super().__init__()
        self.service = service
        self.instance = instance

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
            "instance": self.instance,
        }
        message = current_message()
        for key in CONTEXT_KEYS:
            value = record.__dict__.get(key)
            if value is None:
                value = message.get(key)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(*, service: str, instance: str, level: str, fmt: str) -> None:
    """Send every log record to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(service=service, instance=instance))
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
