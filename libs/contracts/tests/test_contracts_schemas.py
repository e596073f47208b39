import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from phananh_contracts.schemas import render_schemas

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[3]
SCHEMA_DIR = REPO_ROOT / "docs" / "schemas"
REGENERATE = "uv run python -m phananh_contracts.schemas docs/schemas"


def test_checked_in_schemas_are_current() -> None:
    expected = render_schemas()
    found = {path.name: path.read_text(encoding="utf-8") for path in SCHEMA_DIR.glob("*.json")}

    stale = sorted(
        name for name in expected.keys() | found.keys() if expected.get(name) != found.get(name)
    )
    assert not stale, f"{SCHEMA_DIR} is out of date ({', '.join(stale)}); run: {REGENERATE}"


def test_rendering_is_deterministic() -> None:
    assert render_schemas() == render_schemas()


def _properties(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield from node.get("properties", {}).items()
        for child in node.values():
            yield from _properties(child)
    elif isinstance(node, list):
        for child in node:
            yield from _properties(child)


@pytest.mark.parametrize("name", sorted(render_schemas()))
def test_every_field_in_the_schemas_is_described(name: str) -> None:
    document = json.loads(render_schemas()[name])
    schemas = [
        document.get("key", {}).get("schema"),
        {"$defs": document.get("value", {}).get("$defs")},
    ]

    undocumented = [field for field, prop in _properties(schemas) if "description" not in prop]
    assert not undocumented, f"{name}: fields without description: {undocumented}"


def test_index_lists_every_topic_and_its_schema_file() -> None:
    files = render_schemas()
    index = json.loads(files["index.json"])

    for topic in index["topics"]:
        if "schema" in topic:
            assert json.loads(files[topic["schema"]])["topic"] == topic["topic"]
        else:
            assert topic["value"] == "raw bytes of the original record"
