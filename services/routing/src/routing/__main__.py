"""Entry point: ``phananh-routing`` (or ``python -m routing``).

phananh-routing                              run the service
phananh-routing dry-run NEW.yaml             show how past reports would be routed by new rules
phananh-routing publish-rules NEW.yaml [--by NAME]
                                             validate new rules and put them in force on every
                                             routing instance (through pakn.routing.rules.v1)
"""

import argparse
import asyncio
import sys
from pathlib import Path

from phananh_platform.runtime import serve
from phananh_platform.settings import load_settings

from routing.app import city_check, create_app
from routing.rules import RuleSetError
from routing.settings import Settings


def publish_rules_command(argv: list[str]) -> int:
    """``phananh-routing publish-rules``: 0 published, 2 refused (each problem named)."""
    from routing.rules_feed import publish_rules

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


def main() -> None:
    if sys.argv[1:2] == ["dry-run"]:
        from routing.dry_run import main as dry_run

        sys.exit(dry_run(sys.argv[2:]))
    if sys.argv[1:2] == ["publish-rules"]:
        sys.exit(publish_rules_command(sys.argv[2:]))
    settings = load_settings(Settings, "phananh-routing")
    try:
        app = create_app(settings)
    except (RuleSetError, OSError) as error:
        print(f"phananh-routing: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    serve(app)


if __name__ == "__main__":
    main()
