"""Entry point: ``phananh-notify`` (or ``python -m notify``)."""

from phananh_platform.runtime import serve

from notify.app import create_app
from notify.settings import Settings


def main() -> None:
    serve(create_app(Settings()))


if __name__ == "__main__":
    main()
