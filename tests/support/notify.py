"""In-memory twins of what notify's courier and handlers reach over the network.

For handler tests under FastStream's ``TestKafkaBroker``: the real handlers, domain,
templates and courier, with these in place of the database, the providers and Kafka.

* :class:`MemoryReportBook`, :class:`MemoryOptOuts`, :class:`MemoryNotificationLog` answer
  as ``notify.adapters.store``'s ``ReportBook``, ``OptOuts`` and ``NotificationLog`` do
  over MongoDB (the rules in their docstrings: a notification is claimed once, one
  decided is not sent again, its first outcome is kept). A report file is folded and
  read back by the store's own functions, so both hold the same files;
* :class:`AcceptingProvider` keeps every message it is asked to carry and accepts it;
* :class:`KeptProducer` keeps what it published instead of sending it to Kafka;
* :class:`MemoryContactKeys` answers as ``notify.adapters.keys.ContactKeyStore``, and
  :class:`FilingSealer` seals contacts as intake does, filing each key (in a
  :class:`MemoryContactKeys`, or as events to publish on the contact-keys topic).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from notify.adapters.keys import Destroyed, KeyState
from notify.adapters.providers import OutgoingMessage
from notify.adapters.store import (
    Claim,
    Decision,
    NewClaim,
    _claim_document,
    _decision,
    _file,
    _merged,
)
from notify.config import NotifyConfig
from notify.domain.delivery import AttemptResult
from notify.domain.telling import FileChange, OptOutChange, OptOutState, ReportFile
from phananh_contracts import (
    ContactKeyDestroyed,
    ContactKeyIssued,
    ContactKeyIssuedEvent,
    Event,
    KafkaRecord,
    topic_by_name,
)
from phananh_platform.privacy import ContactKey, ContactSealer, SealedContact


class MemoryContactKeys:
    """``ContactKeyStore`` in memory: per key id, the key or the proof it was destroyed."""

    def __init__(self) -> None:
        self.states: dict[str, KeyState] = {}

    async def file(self, filed: Sequence[ContactKeyIssued | ContactKeyDestroyed]) -> None:
        for data in filed:
            if isinstance(data, ContactKeyDestroyed):
                self.states[data.key_id] = Destroyed(data.key_id, data.request_id)
            else:
                self.states.setdefault(data.key_id, ContactKey(data.key_id, data.wrapped_key))

    async def keys(self, key_ids: Iterable[str]) -> dict[str, KeyState]:
        return {key_id: self.states[key_id] for key_id in key_ids if key_id in self.states}


class FilingSealer:
    """Seals contacts under keys of their own as intake does; each key is filed in
    ``store`` at once, or kept until :meth:`key_events` hands it over for publication."""

    def __init__(self, master_key: str, store: MemoryContactKeys | None = None) -> None:
        self.sealer = ContactSealer([master_key])
        self.store = store
        self.unpublished: list[ContactKeyIssued] = []

    def seal(self, contact: SealedContact, pseudonym: str = "ctz-test") -> str:
        sealed, key = self.sealer.seal(contact)
        data = ContactKeyIssued(
            key_id=key.key_id,
            pseudonym=pseudonym,
            wrapped_key=key.wrapped_key,
            issued_at=datetime.now().astimezone(),
        )
        if self.store is not None:
            self.store.states[key.key_id] = key
        else:
            self.unpublished.append(data)
        return sealed

    def key_events(self) -> list[ContactKeyIssuedEvent]:
        """The keys filed since the last call, as intake publishes them."""
        events = [ContactKeyIssuedEvent.new(data, source="/tests") for data in self.unpublished]
        self.unpublished.clear()
        return events


class MemoryReportBook:
    """``ReportBook`` in memory: each report's latest file, and how many versions it had."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, int] = {}

    async def apply(self, changes: Iterable[FileChange]) -> dict[str, ReportFile]:
        """Fold each report's changes into a new version (none when they are in it
        already); the files of every report named, as they now stand."""
        pending: dict[str, list[FileChange]] = {}
        for change in changes:
            pending.setdefault(change.report_id, []).append(change)
        for report_id, items in pending.items():
            folded = _merged(report_id, self.documents.get(report_id, {}), items)
            if folded is not None:
                self.documents[report_id] = dict(folded)
                self.versions[report_id] = self.versions.get(report_id, 0) + 1
        return {report_id: _file(report_id, self.documents[report_id]) for report_id in pending}

    async def files(self, report_ids: Iterable[str]) -> dict[str, ReportFile]:
        return {key: _file(key, self.documents.get(key, {})) for key in set(report_ids)}


class MemoryOptOuts:
    """``OptOuts`` in memory: per pseudonym the latest ``stop_at`` and ``start_at``."""

    def __init__(self) -> None:
        self.latest: dict[str, dict[str, datetime]] = {}

    async def record_all(self, changes: Iterable[OptOutChange]) -> None:
        for change in changes:
            field = "stop_at" if change.intent == "opt_out" else "start_at"
            latest = self.latest.setdefault(change.pseudonym, {})
            latest[field] = max(latest.get(field, change.at), change.at)

    async def states(self, pseudonyms: Iterable[str]) -> dict[str, OptOutState]:
        return {
            pseudonym: OptOutState(fields.get("stop_at"), fields.get("start_at"))
            for pseudonym in set(pseudonyms)
            if (fields := self.latest.get(pseudonym)) is not None
        }


class MemoryNotificationLog:
    """``NotificationLog`` in memory: claims, outcomes and publications, one per id."""

    def __init__(self) -> None:
        self.claims: dict[str, dict[str, Any]] = {}
        self.outcomes: dict[str, dict[str, Any]] = {}
        self.marked: set[str] = set()

    async def claim_all(
        self, claims: Sequence[NewClaim], *, now: datetime, lease_s: float
    ) -> dict[str, Claim]:
        lease_until = now + timedelta(seconds=lease_s)
        result: dict[str, Claim] = {}
        for claim in claims:
            nid = claim.notification_id
            existing = self.claims.get(nid)
            if existing is None:
                self.claims[nid] = _claim_document(claim, now, lease_until)
                result[nid] = Claim(nid)
            elif existing["state"] != "sending":  # decided with its claim (opted out)
                result[nid] = Claim(nid, done=existing | {"published": True})
            elif nid in self.outcomes:
                decided = self.outcomes[nid]
                unpublished = decided.get("outcome") and nid not in self.marked
                if unpublished and existing["lease_until"] > now:
                    result[nid] = Claim(nid, held=True)  # its delivery is publishing it
                else:
                    done = existing | decided | {"published": nid in self.marked}
                    result[nid] = Claim(nid, done=done)
            elif existing["lease_until"] > now:
                result[nid] = Claim(nid, held=True)  # another delivery holds it
            else:  # left sending by a delivery that crashed: taken over
                attempts = int(existing["attempts"])
                existing["lease_until"] = lease_until
                existing["takeovers"] = existing.get("takeovers", 0) + 1
                if claim.first_provider is not None:
                    existing |= {"last_provider": claim.first_provider, "last_at": now}
                    existing["attempts"] = attempts + 1
                result[nid] = Claim(nid, attempts_before=attempts, taken_over=True)
        return result

    async def attempt(self, notification_id: str, provider_id: str, *, now: datetime) -> None:
        """Count an attempt on a claimed notification (one never claimed: nothing, as the
        store's update of no document does nothing)."""
        if (claim := self.claims.get(notification_id)) is not None:
            claim["attempts"] += 1
            claim |= {"last_provider": provider_id, "last_at": now}

    async def renew(self, notification_ids: Iterable[str], *, until: datetime) -> None:
        for nid in notification_ids:
            if (claim := self.claims.get(nid)) is not None and claim["state"] == "sending":
                claim["lease_until"] = until

    async def decide_all(self, decisions: Sequence[Decision], *, now: datetime) -> list[Decision]:
        """Record each fate once: a notification decided already keeps its first outcome,
        and that one is returned (to be published)."""
        recorded: list[Decision] = []
        for decision in decisions:
            earlier = self.outcomes.get(decision.notification_id)
            if earlier is not None:
                recorded.append(_decision(earlier))
                continue
            self.outcomes[decision.notification_id] = {
                "_id": decision.notification_id,
                **decision.details,
                "state": decision.state,
                "outcome": decision.outcome,
                "decided_at": now,
            }
            recorded.append(decision)
        return recorded

    async def published(self, notification_ids: Iterable[str]) -> None:
        self.marked.update(notification_ids)

    async def get(self, notification_id: str) -> dict[str, Any] | None:
        claim = self.claims.get(notification_id)
        if claim is None:
            return None
        decided = self.outcomes.get(notification_id, {})
        return claim | decided | {"published": notification_id in self.marked}


class AcceptingProvider:
    """A ``Provider`` that keeps every message it is asked to carry and accepts it."""

    def __init__(self, provider_id: str, channel: str) -> None:
        self._id = provider_id
        self._channel = channel
        self.messages: list[OutgoingMessage] = []

    @property
    def id(self) -> str:
        return self._id

    @property
    def channel(self) -> str:
        return self._channel

    async def send(self, message: OutgoingMessage) -> AttemptResult:
        self.messages.append(message)
        return AttemptResult.accepted(f"{self._id}-{len(self.messages)}")


def accepting_providers(config: NotifyConfig) -> dict[str, AcceptingProvider]:
    """One accepting provider for each provider of ``config`` (all of them enabled)."""
    return {item.id: AcceptingProvider(item.id, item.channel) for item in config.providers}


class KeptProducer:
    """``RecordProducer`` keeping the records it published, in order."""

    def __init__(self) -> None:
        self.records: list[KafkaRecord] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def publish(self, record: KafkaRecord) -> None:
        self.records.append(record)

    async def publish_all(self, records: Sequence[KafkaRecord]) -> None:
        self.records.extend(records)

    def events(self) -> list[Event[Any]]:
        """The published records, decoded against their topic's contract."""
        return [topic_by_name(record.topic).decode(record.value) for record in self.records]
