"""Configuration files: YAML read once, every problem reported with the file's name.

Services validate the document with their own pydantic models; this module only turns
"cannot read", "not UTF-8", "not YAML" and "not a mapping" into one clear error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def read_yaml_mapping(path: Path, what: str, error: type[ValueError]) -> dict[str, Any]:
    """The YAML mapping in ``path``, or ``error`` naming the file and the problem."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as problem:
        raise error(f"{path}: cannot read the {what}: {problem}") from None
    except UnicodeDecodeError:
        raise error(f"{path}: the {what} is not UTF-8") from None
    except yaml.YAMLError as problem:
        raise error(f"{path}: not valid YAML: {problem}") from None
    if not isinstance(document, dict):
        raise error(f"{path}: the {what} must be a YAML mapping")
    return document
