"""Entry point: ``phananh-routing`` (or ``python -m routing``)."""

from phananh_platform.runtime import serve

from routing.app import create_app
from routing.settings import Settings


def main() -> None:
    serve(create_app(Settings()))


if __name__ == "__main__":
    main()
