"""A citizen asks to be forgotten: ``phananh forget`` on the platform running as processes.

Two citizens report through the city app and are told on it. The first asks to be
forgotten and the operator runs ``phananh forget --code``: the platform sends that
citizen nothing more (the other one still hears the result), every copy of their sealed
contact (on Kafka, in notify's store; the audit trail keeps none) stays where it is but
can no longer be opened, the trail still verifies, and once the broker's log cleaner has
run the key is gone from the contact-keys topic itself.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from phananh_contracts import (
    ASSIGNMENTS_TOPIC,
    CONTACT_KEYS_TOPIC,
    NOTIFICATIONS_TOPIC,
    REPORTS_TOPIC,
    ContactKeyDestroyed,
    ContactKeyDestroyedEvent,
    ContactKeyIssued,
    decode_event,
)
from phananh_platform.contact_keys import filed_contact_keys
from phananh_platform.kafka import read_topic, topic_configs
from phananh_platform.privacy import ContactKeyUnknown, key_id_of

from tests.support.kafka import TopicWatcher
from tests.support.platform import Platform, running_platform
from tests.support.privacy import find_contacts, open_contact
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

FORGOTTEN_PHONE, KEPT_PHONE = "0912 345 678", "0987 654 321"
MARKET = (
    "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, tổ 8, phường Chiềng "
    "Sinh, lấn chiếm lối đi và gây mất vệ sinh."
)
LAMP = "Đèn đường hỏng cả tuần ở đường Tô Hiệu, phường Tô Hiệu, buổi tối rất tối, nguy hiểm."
RESULT = "Đã xử lý xong theo phản ánh."


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    async with running_platform(tmp_path, name="forget") as running:
        yield running


async def report(platform: Platform, text: str, phone: str) -> str:
    app_key = platform.secret("PHANANH_API_KEYS")["app:sonla-smart"]
    status, answer = await asyncio.to_thread(
        platform.post,
        "intake",
        "/channels/app/reports",
        {"text": text, "anonymous": False, "consent": True, "contact": {"phone": phone}},
        {"Authorization": f"Bearer {app_key}"},
    )
    assert status in (200, 202), answer
    (code,) = answer["tracking_codes"]
    return str(code)


def pushes_to(platform: Platform, phone: str) -> list[Any]:
    return [r for r in platform.http.to("/app/push") if r.body["recipient"]["phone"] == phone]


async def compact_now(platform: Platform) -> None:
    """Make the broker's log cleaner compact the contact-keys topic within seconds (a
    deployment waits at most a day): small segments, rolled by one record per partition."""
    settings = platform.kafka_as("admin")
    admin = AIOKafkaAdminClient(**settings.client_options(), client_id="test-compaction")
    await admin.start()
    try:
        # AlterConfigs replaces the topic's whole configuration: give all of it.
        configs = topic_configs(CONTACT_KEYS_TOPIC, settings) | {
            "segment.ms": "200",
            "max.compaction.lag.ms": "200",
            "min.cleanable.dirty.ratio": "0.01",
        }
        (answer,) = await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, CONTACT_KEYS_TOPIC.name, configs=configs)]
        )
        assert all(resource[0] == 0 for resource in answer.resources), answer
    finally:
        await admin.close()
    await asyncio.sleep(1)
    producer = AIOKafkaProducer(**settings.client_options(), client_id="test-compaction")
    await producer.start()
    try:
        for partition in range(CONTACT_KEYS_TOPIC.partitions):
            filler = ContactKeyDestroyedEvent.new(
                ContactKeyDestroyed(
                    key_id=f"ck-{secrets.token_hex(16)}",
                    pseudonym="ctz-segment-roll",
                    request_id="test-segment-roll",
                    reason="a record that rolls the segment",
                    destroyed_by="test",
                    destroyed_at=datetime.now(UTC),
                ),
                source="/tests",
            ).to_kafka()
            await producer.send_and_wait(
                filler.topic, filler.value, key=filler.key, partition=partition
            )
    finally:
        await producer.stop()


async def test_a_forgotten_citizen_is_told_nothing_more_and_no_copy_of_their_contact_opens(
    platform: Platform,
) -> None:
    master_key = platform.secret("PHANANH_CONTACT_KEYS")[0]
    async with (
        TopicWatcher(platform.kafka, NOTIFICATIONS_TOPIC.name) as notifications,
        TopicWatcher(platform.kafka, ASSIGNMENTS_TOPIC.name) as assignments,
    ):
        forgotten_code = await report(platform, MARKET, FORGOTTEN_PHONE)
        kept_code = await report(platform, LAMP, KEPT_PHONE)
        holders = {
            event.data.tracking_code: (
                event.data.lead_agency_id,
                *event.data.supporting_agency_ids,
            )
            for event in await assignments.wait_for(
                lambda e: e.data.tracking_code in {forgotten_code, kept_code}, count=2
            )
        }
        # Both are told their tracking code on the app.
        await eventually(lambda: pushes_to(platform, "+84912345678"), "the first receipt")
        await eventually(lambda: pushes_to(platform, "+84987654321"), "the second receipt")

        # The operator forgets the first citizen by the tracking code they were given.
        erased = platform.run(
            "phananh", "forget", "--code", forgotten_code, "--reason", "Đơn yêu cầu số 12", "--json"
        )
        assert erased.returncode == 0, erased.stderr
        receipt = json.loads(erased.stdout)
        assert receipt["keys_destroyed"] == 1 and len(receipt["citizens"]) == 1
        assert receipt["tracking_codes"] == [forgotten_code]
        (citizen,) = receipt["citizens"]

        # Both reports are resolved; only the citizen who was not forgotten hears of it.
        for code, agencies in holders.items():
            for agency in agencies:
                sent = platform.run(
                    "phananh-agency", "--agency", agency, "resolve", code, "--note", RESULT
                )
                assert sent.returncode == 0, sent.stderr
        await eventually(
            lambda: any(RESULT in r.body["body"] for r in pushes_to(platform, "+84987654321")),
            "the result told to the citizen who was not forgotten",
        )
        (failed,) = await notifications.wait_for(
            lambda e: (
                e.type == "vn.pakn.notification.failed" and e.data.recipient_pseudonym == citizen
            )
        )
        assert "forgotten" in failed.data.reason and failed.data.permanent
    assert not any(RESULT in r.body["body"] for r in pushes_to(platform, "+84912345678"))

    # Every copy of the sealed contact is still kept, and none opens any more.
    events = {
        event.data.tracking_code: event.data
        for record in await read_topic(platform.kafka, REPORTS_TOPIC.name)
        if (event := decode_event(REPORTS_TOPIC.name, record.value))
    }
    sealed = events[forgotten_code].reporter.contact_ciphertext
    copies = await find_contacts(platform, [sealed.split(".", 2)[2]])
    assert REPORTS_TOPIC.name in copies
    assert any(place.startswith("pakn_notify.") for place in copies), copies
    assert not any(place.startswith("pakn_audit.") for place in copies), "the trail drops it"
    with pytest.raises(ContactKeyUnknown):
        await open_contact(platform.kafka, master_key, sealed)
    kept = await open_contact(
        platform.kafka, master_key, events[kept_code].reporter.contact_ciphertext
    )
    assert kept.phone == "+84987654321"

    # The trail still verifies; forgetting again destroys nothing more; nobody is nobody.
    verify = platform.run("phananh-audit", "verify", "--kafka", principal="svc-audit")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    again = platform.run("phananh", "forget", "--phone", FORGOTTEN_PHONE, "--reason", "x", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["keys_destroyed"] == 0
    assert json.loads(again.stdout)["keys_destroyed_before"] == 1
    nobody = platform.run("phananh", "forget", "--code", "SL-2303-ZZZZZZ", "--reason", "x")
    assert nobody.returncode == 1 and "none found" in nobody.stdout

    # Once the log cleaner has run, the key itself is gone from the brokers.
    key_id = key_id_of(sealed)
    assert key_id is not None
    await compact_now(platform)

    async def key_erased() -> bool:
        records = await read_topic(platform.kafka, CONTACT_KEYS_TOPIC.name)
        return not [
            record
            for record in records
            if record.key == key_id.encode() and b"wrapped_key" in (record.value or b"")
        ]

    await eventually(key_erased, "the log cleaner to erase the key", timeout_s=90)
    filed = await filed_contact_keys(platform.kafka)
    assert isinstance(filed[key_id], ContactKeyDestroyed)
    assert not any(
        isinstance(d, ContactKeyIssued) and d.pseudonym == citizen for d in filed.values()
    )
