"""The one exception the contracts raise for bad input."""

from typing import Self

from pydantic import ValidationError


class ContractViolation(ValueError):
    """Bytes or values that do not follow the contract.

    ``reason`` is short and human-readable, fit for a log line or the ``x-dlq-reason``
    header of a dead-letter record, e.g. ``"unknown event type 'x' on topic
    pakn.reports.v1"`` or ``"data.text: String should have at least 1 character"``.
    """

    def __init__(self, reason: str, *, topic: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.topic = topic

    @classmethod
    def from_validation_error(
        cls, error: ValidationError, *, topic: str | None = None, skip_loc: int = 0
    ) -> Self:
        """Summarise pydantic's first error as ``"<location>: <message>"``.

        ``skip_loc`` drops leading location parts that name no field (the union tag).
        """
        errors = error.errors(include_url=False)
        first = errors[0]
        location = ".".join(str(part) for part in first["loc"][skip_loc:])
        message = first["msg"].removeprefix("Value error, ")
        reason = f"{location}: {message}" if location else message
        if len(errors) > 1:
            reason += f" (and {len(errors) - 1} more)"
        return cls(reason, topic=topic)
