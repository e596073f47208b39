"""Entry point: ``phananh-notify`` (or ``python -m notify``)."""

from phananh_platform.runtime import serve
from phananh_platform.settings import load_settings

from notify.app import create_app
from notify.settings import Settings


def main() -> None:
    serve(create_app(load_settings(Settings, "phananh-notify")))


if __name__ == "__main__":
    main()
