"""The AsyncAPI documents in docs/asyncapi are what FastStream generates from the services.

Regenerate them after changing a subscription or what a service publishes:

    uv run python -m tests.unit.test_ops_asyncapi
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import yaml
from phananh_platform.asyncapi import render_asyncapi

from tests.unit.test_ops_dashboards import built_services

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI_DIR = ROOT / "docs" / "asyncapi"
SCHEMA_DIR = ROOT / "docs" / "schemas"
REGENERATE = "uv run python -m tests.unit.test_ops_asyncapi"


def render_all() -> dict[str, str]:
    """Every document: file name -> text (notify joins once its subscriptions are stable)."""
    return {f"{name}.yaml": render_asyncapi(app) for name, app in built_services().items()}


def write_all(directory: Path = ASYNCAPI_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in render_all().items():
        (directory / name).write_text(text, encoding="utf-8")


def test_checked_in_asyncapi_documents_are_current() -> None:
    expected = render_all()
    found = {path.name: path.read_text(encoding="utf-8") for path in ASYNCAPI_DIR.glob("*.yaml")}
    stale = sorted(name for name in expected if expected[name] != found.get(name))
    assert not stale, f"{ASYNCAPI_DIR} is out of date ({', '.join(stale)}); run: {REGENERATE}"


def _documents() -> dict[str, dict[str, Any]]:
    return {name: yaml.safe_load(text) for name, text in render_all().items()}


def test_each_service_documents_what_it_reads_and_writes_with_the_contract_schemas() -> None:
    documents = _documents()
    operations = {
        name: {
            (
                op["action"],
                document["channels"][unquote(op["channel"]["$ref"].split("/")[-1])]["address"],
            )
            for op in document["operations"].values()
        }
        for name, document in documents.items()
    }
    assert ("receive", "pakn.channel.raw.v1") in operations["intake.yaml"]
    assert ("send", "pakn.reports.v1") in operations["intake.yaml"]
    assert ("receive", "pakn.reports.v1") in operations["routing.yaml"]
    assert ("send", "pakn.assignments.v1") in operations["routing.yaml"]
    assert ("send", "pakn.inbox.{agency_id}.v1") in operations["routing.yaml"]
    assert ("receive", "pakn.notifications.v1") in operations["audit.yaml"]
    assert ("send", "pakn.audit.checkpoints.v1") in operations["audit.yaml"]
    for name, document in documents.items():
        assert ("send", f"pakn.dlq.{name.removesuffix('.yaml')}.v1") in operations[name]
        assert document["asyncapi"].startswith("3.")
        for message in document["components"]["messages"].values():
            reference = message["payload"].get("$ref")
            if reference is None:  # dead letters: raw bytes of any record
                assert message["payload"]["format"] == "binary"
                continue
            file, pointer = reference.removeprefix("../schemas/").split("#")
            assert (SCHEMA_DIR / file).is_file(), f"{name}: {reference} names no schema file"
            assert pointer == "/value"


if __name__ == "__main__":
    write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else ASYNCAPI_DIR)
    print(f"wrote {', '.join(sorted(render_all()))} into {ASYNCAPI_DIR}")
