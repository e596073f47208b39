"""The gate: an agency speaks only for itself (pure).

Kafka's ACLs say who may write a topic, never what a record may say. So each agency writes
its updates on a topic of its own, ``pakn.updates.<agency-id>.v1``, which only it may
write: the topic is the proof of who sent an update. The gate reads every agency's
updates topic and decides on each update:

* it names the topic's agency (``agency_id``): it is *admitted*, forwarded unchanged (same
  event id, key and bytes) to ``pakn.agency.updates.v1``, where the case is decided on
  it (:func:`routing.domain.case.apply_update`) and audit records it;
* it names another agency: it is *refused* (``agency_mismatch``) and never forwarded; an
  ``AgencyUpdateRefused`` naming the sender goes to ``pakn.agency.updates.refused.v1``
  (audited) and to the sender's inbox, unless the sender is not configured (it has no
  inbox to write to).

What an update may do to a case (holding the report, its state, lead-only kinds) is
decided after the gate, on the admitted update, by the case's rules. The refusal's id
derives from the update's id and the topic it came on, so a redelivered update is
decided again to the same facts, which consumers absorb.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from phananh_contracts import (
    AGENCY_UPDATES_REFUSED_TOPIC,
    AGENCY_UPDATES_TOPIC,
    AgencyUpdateEvent,
    AgencyUpdateRefused,
    AgencyUpdateRefusedEvent,
    UpdateRefusalReason,
    agency_inbox_topic,
    agency_of_updates_topic,
)

from routing.domain.case import SOURCE, Fact, fact_id
from routing.domain.rules import RuleSet


@dataclass(frozen=True)
class Passage:
    """What the gate decided on one update: who sent it and the facts to publish."""

    sender: str
    """The agency whose updates topic the update was written on."""
    update: AgencyUpdateEvent
    facts: tuple[Fact, ...]
    refused: UpdateRefusalReason | None = None

    @property
    def admitted(self) -> bool:
        return self.refused is None


def admit(
    topic: str, update: AgencyUpdateEvent, body: bytes, ruleset: RuleSet, *, now: datetime
) -> Passage:
    """Admit an update read from ``topic`` (an agency's updates topic) if it names that
    agency; refuse it otherwise. ``body`` is the record's value, forwarded as it is."""
    sender = agency_of_updates_topic(topic)
    claimed = update.data.agency_id
    if claimed == sender:
        return Passage(sender, update, (Fact(update, AGENCY_UPDATES_TOPIC, original=body),))
    refused = AgencyUpdateRefused(
        report_id=update.data.report_id,
        agency_id=sender,
        update_event_id=update.id,
        update_kind=update.data.kind,
        reason=UpdateRefusalReason.AGENCY_MISMATCH,
        detail=(
            f"Cập nhật nhân danh đơn vị {claimed} nhưng được gửi trên {topic} của đơn vị "
            f"{sender}: mỗi đơn vị chỉ được gửi cập nhật của chính mình."
        ),
        refused_at=now,
    )
    event = AgencyUpdateRefusedEvent.new(
        refused, source=SOURCE, id=fact_id(update.id, f"gate:{sender}"), time=now
    )
    facts = [Fact(event, AGENCY_UPDATES_REFUSED_TOPIC)]
    if ruleset.agency(sender) is not None:  # a configured agency: routing made its inbox
        facts.append(Fact(event, agency_inbox_topic(sender)))
    return Passage(sender, update, tuple(facts), UpdateRefusalReason.AGENCY_MISMATCH)
