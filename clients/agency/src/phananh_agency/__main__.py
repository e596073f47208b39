"""``python -m phananh_agency …``: the command without its console script."""

from phananh_agency.cli import main_entry

if __name__ == "__main__":
    main_entry()
