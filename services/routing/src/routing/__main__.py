"""Entry point: ``phananh-routing`` (or ``python -m routing``)."""

from phananh_platform.runtime import serve
from phananh_platform.settings import load_settings

from routing.app import create_app
from routing.settings import Settings


def main() -> None:
    serve(create_app(load_settings(Settings, "phananh-routing")))


if __name__ == "__main__":
    main()
