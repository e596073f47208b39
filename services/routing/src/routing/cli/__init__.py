"""Routing's command-line tools: ``dry-run`` and ``publish-rules``. The reference agency
client ``phananh-agency`` is its own package, ``clients/agency``."""
