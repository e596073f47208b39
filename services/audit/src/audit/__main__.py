"""Entry point: ``phananh-audit`` (or ``python -m audit``)."""

from phananh_platform.runtime import serve

from audit.app import create_app
from audit.settings import Settings


def main() -> None:
    serve(create_app(Settings()))


if __name__ == "__main__":
    main()
