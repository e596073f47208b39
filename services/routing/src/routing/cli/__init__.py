"""Routing's command-line tools: ``dry-run``, ``publish-rules`` and the reference agency
client ``phananh-agency``."""
