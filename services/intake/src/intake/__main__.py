"""Entry point: ``phananh-intake`` (or ``python -m intake``)."""

from phananh_platform.runtime import serve

from intake.app import create_app
from intake.settings import Settings


def main() -> None:
    serve(create_app(Settings()))


if __name__ == "__main__":
    main()
