"""Which published rule sets a routing instance accepts (pure part of the rules feed)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from routing.adapters.rules_feed import publication, ruleset_of
from routing.adapters.rules_file import load_ruleset
from routing.domain.rules import RuleSet, RuleSetError

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[4]
DOCUMENT = (ROOT / "config/son-la/routing.yaml").read_text(encoding="utf-8")
RULES = load_ruleset(ROOT / "config/son-la/routing.yaml")


def no_problems(_: RuleSet) -> list[str]:
    return []


def test_a_sound_publication_gives_the_rule_set_it_carries() -> None:
    event = publication(DOCUMENT, RULES, scope="routing", by="ioc-operator")

    assert event.source == "/operators/ioc-operator"
    assert event.to_kafka().key == b"routing"
    assert ruleset_of(event.data, no_problems) == RULES


def test_a_document_changed_after_publication_is_refused() -> None:
    event = publication(DOCUMENT, RULES, scope="routing", by="x")
    tampered = event.data.model_copy(update={"document": DOCUMENT.replace("5}", "50}")})

    with pytest.raises(RuleSetError, match="does not match its SHA-256"):
        ruleset_of(tampered, no_problems)


def test_a_version_that_disagrees_with_the_document_is_refused() -> None:
    event = publication(DOCUMENT, RULES, scope="routing", by="x")
    relabelled = event.data.model_copy(update={"ruleset_version": "2099.1"})

    with pytest.raises(RuleSetError, match=f"the document says version '{RULES.version}'"):
        ruleset_of(relabelled, no_problems)


def test_a_rule_set_with_problems_is_refused_naming_them() -> None:
    event = publication(DOCUMENT, RULES, scope="routing", by="x")

    with pytest.raises(RuleSetError, match="unknown ward 99999"):
        ruleset_of(event.data, lambda _: ["rules[0]: unknown ward 99999"])


def test_text_that_is_not_a_rule_set_is_refused() -> None:
    text = "version: [unclosed"
    event = publication(DOCUMENT, RULES, scope="routing", by="x")

    broken = event.data.model_copy(
        update={"document": text, "sha256": hashlib.sha256(text.encode()).hexdigest()}
    )
    with pytest.raises(RuleSetError, match="not valid YAML"):
        ruleset_of(broken, no_problems)
