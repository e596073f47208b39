"""Filing the keys of the contacts a batch sealed, before the batch's events go out.

Each contact intake keeps is sealed under a key of its own (``phananh_platform.privacy``);
the key is filed on ``pakn.contact.keys.v1`` under the citizen's pseudonym and the tracking
code, so that ``phananh forget`` can destroy it. The keys are published, and acknowledged,
before the events that carry the sealed contacts: no event on Kafka names a key that is not
there. A batch handled again seals again under new keys; the keys of the first attempt
stay filed (harmless: forgetting the citizen destroys them too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from phananh_contracts import ContactKeyIssued, ContactKeyIssuedEvent, KafkaRecord
from phananh_platform.privacy import ContactSealer, SealedContact

SOURCE = "/services/intake"


@dataclass
class KeyFiling:
    """Seals a batch's contacts (``seal`` is :data:`intake.domain.normalize.Seal`) and
    keeps the keys to file."""

    sealer: ContactSealer
    now: datetime
    issued: list[ContactKeyIssued] = field(default_factory=list)

    def seal(self, contact: SealedContact, pseudonym: str, tracking_code: str | None) -> str:
        sealed, key = self.sealer.seal(contact)
        self.issued.append(
            ContactKeyIssued(
                key_id=key.key_id,
                pseudonym=pseudonym,
                tracking_code=tracking_code,
                wrapped_key=key.wrapped_key,
                issued_at=self.now,
            )
        )
        return sealed

    def records(self) -> list[KafkaRecord]:
        """The keys as records of the contact-keys topic (keyed by key id)."""
        return [ContactKeyIssuedEvent.new(key, source=SOURCE).to_kafka() for key in self.issued]
