"""Entry point: ``phananh-routing`` (or ``python -m routing``).

phananh-routing                              run the service
phananh-routing dry-run NEW.yaml             show how past reports would be routed by new rules
phananh-routing publish-rules NEW.yaml [--by NAME]
                                             validate new rules and put them in force on every
                                             routing instance (through pakn.routing.rules.v1)
"""

import sys

from phananh_platform.runtime import serve
from phananh_platform.settings import load_settings

from routing.app import create_app
from routing.domain.rules import RuleSetError
from routing.settings import Settings


def main() -> None:
    if sys.argv[1:2] == ["dry-run"]:
        from routing.cli.dry_run import main as dry_run

        sys.exit(dry_run(sys.argv[2:]))
    if sys.argv[1:2] == ["publish-rules"]:
        from routing.cli.publish_rules import main as publish_rules

        sys.exit(publish_rules(sys.argv[2:]))
    settings = load_settings(Settings, "phananh-routing")
    try:
        app = create_app(settings)
    except (RuleSetError, OSError) as error:
        print(f"phananh-routing: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    serve(app)


if __name__ == "__main__":
    main()
