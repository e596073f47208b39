"""``phananh-routing publish-rules NEW.yaml [--by NAME]``: validate new rules and put them in
force on every routing instance (through ``pakn.routing.rules.v1``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from phananh_platform.settings import load_settings

from routing.adapters.rules_feed import publish_rules
from routing.adapters.rules_file import city_check
from routing.domain.rules import RuleSetError
from routing.settings import Settings


def main(argv: list[str]) -> int:
    """``phananh-routing publish-rules``: 0 published, 2 refused (each problem named)."""
    parser = argparse.ArgumentParser(
        prog="phananh-routing publish-rules",
        description="Validate a routing configuration and put it in force on every instance.",
    )
    parser.add_argument("config", type=Path, help="the new routing configuration (YAML)")
    parser.add_argument("--by", default="operator", help="who publishes it (recorded by audit)")
    arguments = parser.parse_args(argv)
    settings = load_settings(Settings, "phananh-routing publish-rules")
    try:
        event = asyncio.run(
            publish_rules(
                settings.kafka,
                arguments.config,
                city_check(settings),
                scope=settings.rules_scope,
                by=arguments.by,
            )
        )
    except (RuleSetError, OSError) as error:
        print(f"phananh-routing publish-rules: {error}", file=sys.stderr)
        return 2
    data = event.data
    print(
        f"published rule set {data.ruleset_version} (sha256 {data.sha256[:12]}…) for {data.scope}"
    )
    return 0
