"""JSON Schema documents of every topic, for producers and consumers in any language.

``python -m phananh_contracts.schemas docs/schemas`` writes one ``<topic>.json`` per event
topic and an ``index.json`` of all topics. The files are generated from the models and
checked in; a test fails when they are out of date.
"""

import argparse
import json
from pathlib import Path
from typing import Any

from phananh_contracts.envelope import CLOUDEVENTS_CONTENT_TYPE
from phananh_contracts.examples import ALL_EXAMPLES, INBOX_EXAMPLES
from phananh_contracts.topics import (
    ALL_TOPICS,
    DEAD_LETTER_HEADERS,
    Topic,
    agency_inbox_topic,
    agency_updates_topic,
)

INBOX_FILE = "pakn.inbox.AGENCY.v1.json"
"""The schema of every agency's inbox (``pakn.inbox.<agency-id>.v1``)."""
UPDATES_FILE = "pakn.updates.AGENCY.v1.json"
"""The schema of every agency's updates topic (``pakn.updates.<agency-id>.v1``)."""

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _topic_facts(topic: Topic) -> dict[str, Any]:
    return {
        "topic": topic.name,
        "partitions": topic.partitions,
        "description": topic.description,
        "cleanup_policy": topic.cleanup_policy,
        "retention_ms": topic.retention_ms,
        "max_message_bytes": topic.max_message_bytes,
        **({"configs": dict(topic.configs)} if topic.configs else {}),
    }


def topic_document(topic: Topic) -> dict[str, Any]:
    """The schema document of an event topic: key, headers, value and examples."""
    if topic.key is None:
        raise LookupError(f"topic {topic.name} carries raw bytes, not events")
    examples = [
        event.model_dump(mode="json", exclude_none=True)
        for event in (*ALL_EXAMPLES, *INBOX_EXAMPLES)
        if type(event) in topic.events
    ]
    return {
        **_topic_facts(topic),
        "key": {
            "bytes": f"UTF-8 of {topic.key.text_form()!r}",
            "schema": {"$schema": JSON_SCHEMA_DIALECT, **topic.key.model_json_schema()},
        },
        "headers": {"content-type": CLOUDEVENTS_CONTENT_TYPE},
        "events": [
            {
                "type": event.event_type(),
                "schemaversion": event.SCHEMA_VERSION,
                "dataschema": event.dataschema_uri(),
            }
            for event in topic.events
        ],
        "value": {
            "$schema": JSON_SCHEMA_DIALECT,
            **topic.value_adapter.json_schema(),
            "examples": examples,
        },
    }


def _index() -> dict[str, Any]:
    return {
        "content_type": CLOUDEVENTS_CONTENT_TYPE,
        "dead_letter_headers": {str(name): text for name, text in DEAD_LETTER_HEADERS.items()},
        "topics": [
            {**_topic_facts(topic), "schema": f"{topic.name}.json"}
            if topic.events
            else {
                **_topic_facts(topic),
                "key": "the original record's key",
                "value": "raw bytes of the original record",
            }
            for topic in ALL_TOPICS
        ],
        "agency_inboxes": {
            "topic": "pakn.inbox.<agency-id>.v1",
            "partitions": agency_inbox_topic("agency").partitions,
            "schema": INBOX_FILE,
        },
        "agency_updates": {
            "topic": "pakn.updates.<agency-id>.v1",
            "partitions": agency_updates_topic("agency").partitions,
            "schema": UPDATES_FILE,
        },
    }


def _render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_schemas() -> dict[str, str]:
    """Every schema file: file name → text."""
    files = {
        f"{topic.name}.json": _render(topic_document(topic)) for topic in ALL_TOPICS if topic.events
    }
    inbox = topic_document(agency_inbox_topic("AGENCY".lower()))
    inbox.update(topic="pakn.inbox.<agency-id>.v1", description=agency_inbox_topic.__doc__)
    files[INBOX_FILE] = _render(inbox)
    updates = topic_document(agency_updates_topic("agency"))
    updates.update(topic="pakn.updates.<agency-id>.v1", description=agency_updates_topic.__doc__)
    files[UPDATES_FILE] = _render(updates)
    files["index.json"] = _render(_index())
    return files


def write_schemas(directory: Path) -> None:
    """Write the schema files into ``directory`` and delete stale ``*.json`` files there."""
    files = render_schemas()
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m phananh_contracts.schemas",
        description="Write the JSON Schema documents of every topic.",
    )
    parser.add_argument("directory", type=Path, help="where to write the files, e.g. docs/schemas")
    write_schemas(parser.parse_args(argv).directory)


if __name__ == "__main__":
    main()
