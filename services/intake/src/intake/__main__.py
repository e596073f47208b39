"""Entry point: ``phananh-intake`` (or ``python -m intake``)."""

import sys

from phananh_platform.runtime import serve
from phananh_platform.settings import load_settings

from intake.app import create_app
from intake.config import CityConfigError
from intake.settings import Settings


def main() -> None:
    settings = load_settings(Settings, "phananh-intake")
    try:
        app = create_app(settings)
    except (CityConfigError, OSError) as error:
        print(f"phananh-intake: the city configuration is not usable: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    serve(app)


if __name__ == "__main__":
    main()
