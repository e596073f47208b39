"""Who is told: the reporter, and everyone whose report was linked to it as a duplicate.

A recipient is known by the pseudonym intake gave them and carries their contact still
sealed; notify opens it only to send. Anonymous reporters, and reporters with no contact
(public-opinion collaborators), are nobody to tell: they get nothing, and nothing fails.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from phananh_contracts import Reporter


@dataclass(frozen=True)
class Recipient:
    """A citizen to tell about a report, with the tracking code *they* were given."""

    pseudonym: str
    contact_ciphertext: str
    tracking_code: str | None
    own_report_id: str
    """The report this citizen sent (a duplicate's own id, not the report it is linked to)."""


def recipient_of(
    reporter: Reporter | None, *, tracking_code: str | None, own_report_id: str
) -> Recipient | None:
    """The reporter as a recipient, or None when there is nobody to contact."""
    if reporter is None or reporter.anonymous:
        return None
    if reporter.contact_ciphertext is None or reporter.pseudonym is None:
        return None
    return Recipient(
        pseudonym=reporter.pseudonym,
        contact_ciphertext=reporter.contact_ciphertext,
        tracking_code=tracking_code,
        own_report_id=own_report_id,
    )


def root_report_id(report_id: str, duplicate_of: str | None) -> str:
    """The report whose later events a reporter hears about: the original of a duplicate."""
    return duplicate_of if duplicate_of is not None else report_id


def distinct_recipients(recipients: Iterable[Recipient]) -> tuple[Recipient, ...]:
    """One recipient per pseudonym (a person who reported twice is told once), first kept.

    The reporter of the original report comes first because it was recorded first.
    """
    seen: set[str] = set()
    kept: list[Recipient] = []
    for recipient in recipients:
        if recipient.pseudonym not in seen:
            seen.add(recipient.pseudonym)
            kept.append(recipient)
    return tuple(kept)


def notification_id(
    report_id: str, trigger_event_type: str, recipient_pseudonym: str, trigger_event_id: str
) -> str:
    """The idempotency key of one message: one per (report, event, recipient).

    ``{report_id}:{trigger_event_type}:{recipient_pseudonym}:{trigger_event_id}``. The
    event id is appended to the contract's documented form because one report has several
    events of the same type (status changes, reassignments), each told once.
    """
    return f"{report_id}:{trigger_event_type}:{recipient_pseudonym}:{trigger_event_id}"
