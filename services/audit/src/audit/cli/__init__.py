"""Audit's command-line tools (``phananh-audit verify``)."""
