"""What the officer must be told; each error carries the command's exit status."""

from __future__ import annotations


class AgencyClientError(Exception):
    """Something the officer must be told; ``exit_code`` is the command's exit status."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InboxNotFound(AgencyClientError):
    """The agency's inbox topic does not exist (unknown agency, or not created yet)."""


class NotInInbox(AgencyClientError):
    """The report named is not (or no longer) in the agency's inbox."""


class UpdateNotAllowed(AgencyClientError):
    """The update breaks the contract or the agency's role; refused before sending."""


class AccessDenied(AgencyClientError):
    """The cluster's ACLs refuse this agency's principal what it tried (another agency's
    inbox or updates topic, any other topic)."""

    exit_code = 3


class KafkaUnavailable(AgencyClientError):
    """The broker cannot be reached (wrong address, broker down)."""

    exit_code = 2
