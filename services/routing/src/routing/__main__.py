"""Entry point: ``phananh-routing`` (or ``python -m routing``).

phananh-routing                    run the service
phananh-routing dry-run NEW.yaml   show how past reports would be routed by new rules
"""

import sys

from phananh_platform.runtime import serve
from phananh_platform.settings import load_settings

from routing.app import create_app
from routing.rules import RuleSetError
from routing.settings import Settings


def main() -> None:
    if sys.argv[1:2] == ["dry-run"]:
        from routing.dry_run import main as dry_run

        sys.exit(dry_run(sys.argv[2:]))
    settings = load_settings(Settings, "phananh-routing")
    try:
        app = create_app(settings)
    except (RuleSetError, OSError) as error:
        print(f"phananh-routing: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    serve(app)


if __name__ == "__main__":
    main()
