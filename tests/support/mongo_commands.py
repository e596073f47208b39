"""Counting what a store asks the database: a pymongo command listener for tests that hold
a store to a number of round trips."""

from __future__ import annotations

from typing import Any

from pymongo import monitoring


class FindsOn(monitoring.CommandListener):
    """The filters of the ``find`` commands sent on one collection, in order."""

    def __init__(self, collection: str) -> None:
        self.collection = collection
        self.filters: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command["find"] == self.collection:
            self.filters.append(dict(event.command.get("filter", {})))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass
