"""The reference agency client against the real broker, as an officer uses it.

Routing is played by the test: it writes the agency's inbox (tasks assigned, withdrawn,
citizens' answers, refused updates) and reads what the agency sends back on its own
updates topic, ``pakn.updates.<agency-id>.v1``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from phananh_agency import AgencyClient
from phananh_agency import KafkaSettings as AgencyKafkaSettings
from phananh_agency.cli import main
from phananh_contracts import AgencyUpdateKind, Event, agency_inbox_topic, agency_updates_topic
from phananh_platform.kafka import ensure_topics
from phananh_platform.settings import KafkaSettings

from tests.support.agency import citizen_replied, task_assigned, task_withdrawn, update_refused
from tests.support.kafka import TopicWatcher, publish

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]
FUTURE_DEADLINE = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_code() -> str:
    return "SL-2303-" + "".join(secrets.choice(CROCKFORD) for _ in range(6))


class Report:
    """A report of this test: fresh id and tracking code."""

    def __init__(self) -> None:
        self.id = str(uuid.uuid4())
        self.code = new_code()


@pytest.fixture
async def agency(kafka_settings: KafkaSettings) -> AsyncIterator[str]:
    """A fresh agency with its inbox and updates topic (as routing creates them); both are
    deleted afterwards."""
    agency_id = f"test-{uuid.uuid4().hex[:8]}"
    topics = [agency_inbox_topic(agency_id), agency_updates_topic(agency_id)]
    await ensure_topics(kafka_settings, topics)
    yield agency_id
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_topics([topic.name for topic in topics])
    finally:
        await admin.close()


async def to_inbox(kafka: KafkaSettings, agency_id: str, *events: Event[Any]) -> None:
    """Routing's part: write events to the agency's inbox."""
    inbox = agency_inbox_topic(agency_id)
    await publish(kafka, *(event.to_kafka(inbox) for event in events), client_id="it-agency-client")


async def officer(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the command as an officer would (it drives its own event loop: off this one)."""
    status = await asyncio.to_thread(main, argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


async def test_the_inbox_lists_exactly_the_open_tasks_with_their_tracking_codes(
    agency: str, kafka_settings: KafkaSettings, kafka_bootstrap: str, capsys: Any
) -> None:
    late, helping, resolved, back = Report(), Report(), Report(), Report()
    await to_inbox(
        kafka_settings,
        agency,
        task_assigned(agency, late.id, late.code),
        task_assigned(
            agency, helping.id, helping.code, role="supporting", deadline=FUTURE_DEADLINE
        ),
        task_assigned(agency, resolved.id, resolved.code, deadline=FUTURE_DEADLINE),
        task_withdrawn(agency, back.id, back.code, "Chuyển đơn vị khác"),
        citizen_replied(late.id, late.code, "Hàng vẫn bày bán ở cổng phía đông chợ."),
        task_withdrawn(
            agency, resolved.id, resolved.code, "Phần việc của đơn vị đã được giải quyết."
        ),
        update_refused(agency, late.id, str(uuid.uuid4()), "Phản ánh đang chờ người dân trả lời."),
        task_assigned(
            agency, back.id, back.code, deadline=FUTURE_DEADLINE
        ),  # rerouted back: open again
    )
    connection = ["--agency", agency, "--bootstrap", kafka_bootstrap]

    status, out, _ = await officer([*connection, "inbox", "--json"], capsys)
    assert status == 0
    document = json.loads(out)
    assert {task["tracking_code"] for task in document["open"]} == {
        late.code,
        helping.code,
        back.code,
    }
    first = document["open"][0]
    assert first["tracking_code"] == late.code  # overdue first
    assert first["overdue"] is True
    assert [answer["text"] for answer in first["answers"]] == [
        "Hàng vẫn bày bán ở cổng phía đông chợ."
    ]
    assert [refusal["reason"] for refusal in first["refused_updates"]] == ["not_allowed_now"]

    status, out, _ = await officer([*connection, "inbox"], capsys)
    assert status == 0
    assert f"{late.code} · chủ trì · hạn 21/03/2023 17:00 · QUÁ HẠN" in out
    assert f"{helping.code} · phối hợp (chủ trì: ubnd-thanh-pho) · hạn " in out
    assert resolved.code not in out
    assert "1 phản ánh đã rời hộp thư" in out

    status, out, _ = await officer([*connection, "inbox", "--all"], capsys)
    assert f"{resolved.code} · " in out and "Phần việc của đơn vị đã được giải quyết." in out

    inbox = await AgencyClient(
        AgencyKafkaSettings(bootstrap_servers=kafka_bootstrap), agency
    ).inbox()  # the library, same view
    assert inbox.open[0].tracking_code == late.code
    assert {task.tracking_code for task in inbox.open} == {late.code, helping.code, back.code}
    assert [gone.tracking_code for gone in inbox.closed] == [resolved.code]


async def test_updates_reach_the_agencys_own_updates_topic_as_the_officer_gave_them(
    agency: str, kafka_settings: KafkaSettings, kafka_bootstrap: str, capsys: Any
) -> None:
    lead, helping = Report(), Report()
    await to_inbox(
        kafka_settings,
        agency,
        task_assigned(agency, lead.id, lead.code),
        task_assigned(agency, helping.id, helping.code, role="supporting"),
    )
    connection = ["--agency", agency, "--bootstrap", kafka_bootstrap]
    ours = lambda e: e.source == f"/agencies/{agency}"  # noqa: E731
    async with TopicWatcher(kafka_bootstrap, agency_updates_topic(agency).name) as updates:
        sent = [
            await officer([*connection, "accept", lead.code, "--officer", "cb-042"], capsys),
            await officer(
                [*connection, "ask", lead.code, "--note", "Hàng bán ở cổng nào?"], capsys
            ),
            await officer(
                [
                    *connection,
                    "reject",
                    helping.code.lower(),
                    "--note",
                    "Không thuộc thẩm quyền",
                    "--suggest",
                    "ubnd-to-hieu",
                ],
                capsys,
            ),
            await officer([*connection, "resolve", lead.id, "--note", "Đã xử lý"], capsys),
        ]
        unknown = await officer([*connection, "accept", new_code()], capsys)
        not_lead = await officer([*connection, "ask", helping.code, "--note", "?"], capsys)
        found = await updates.wait_for(ours, count=4)
        seen = await updates.settle(1.5)

    assert [status for status, _, _ in sent] == [0, 0, 0, 0]
    assert f"Đã gửi «tiếp nhận» cho {lead.code}" in sent[0][1]
    found.sort(key=lambda e: e.time)  # two reports: two partitions, in any order
    said = [
        (e.data.report_id, e.data.kind, e.data.note, e.data.suggested_agency_id, e.data.officer_ref)
        for e in found
    ]
    assert said == [
        (lead.id, AgencyUpdateKind.ACCEPTED, None, None, "cb-042"),
        (lead.id, AgencyUpdateKind.NEEDS_INFORMATION, "Hàng bán ở cổng nào?", None, None),
        (helping.id, AgencyUpdateKind.REJECTED, "Không thuộc thẩm quyền", "ubnd-to-hieu", None),
        (lead.id, AgencyUpdateKind.RESOLVED, "Đã xử lý", None, None),
    ]
    assert {e.data.agency_id for e in found} == {agency}
    keys = {record.key for record, event in updates.seen if ours(event)}
    assert keys == {lead.id.encode(), helping.id.encode()}

    assert unknown[0] == 1 and "không có trong hộp thư" in unknown[2]
    assert not_lead[0] == 1 and "chỉ đơn vị chủ trì" in not_lead[2]
    assert len([e for e in seen if ours(e)]) == 4, "a refused command published something"


async def test_wait_reports_routing_refusing_that_very_update(
    agency: str, kafka_settings: KafkaSettings, kafka_bootstrap: str, capsys: Any
) -> None:
    report = Report()
    await to_inbox(kafka_settings, agency, task_assigned(agency, report.id, report.code))
    connection = ["--agency", agency, "--bootstrap", kafka_bootstrap]
    ours = lambda e: e.source == f"/agencies/{agency}"  # noqa: E731

    async with TopicWatcher(kafka_bootstrap, agency_updates_topic(agency).name) as updates:
        command = asyncio.create_task(
            officer([*connection, "resolve", report.code, "--note", "Xong", "--wait", "30"], capsys)
        )
        (update,) = await updates.wait_for(ours)
        await to_inbox(
            kafka_settings,
            agency,
            update_refused(agency, report.id, str(uuid.uuid4()), "Một cập nhật khác."),
            update_refused(
                agency, report.id, update.id, "Phản ánh đang chờ người dân bổ sung thông tin."
            ),
        )
        status, out, err = await asyncio.wait_for(command, 30)

    assert status == 1
    assert f"Đã gửi «đã giải quyết» cho {report.code} (mã sự kiện {update.id})" in out
    assert "«đã giải quyết» bị từ chối" in err
    assert "Phản ánh đang chờ người dân bổ sung thông tin." in err
    assert "Một cập nhật khác." not in err

    status, out, err = await officer([*connection, "accept", report.code, "--wait", "1"], capsys)
    assert status == 0
    assert "Không có từ chối nào trong 1 giây." in out


async def test_the_command_runs_as_a_program_with_the_broker_from_the_environment(
    agency: str, kafka_settings: KafkaSettings, kafka_bootstrap: str
) -> None:
    report = Report()
    await to_inbox(
        kafka_settings,
        agency,
        task_assigned(agency, report.id, report.code, deadline=FUTURE_DEADLINE),
    )
    env = {**os.environ, "PHANANH_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap}
    env.pop("PHANANH_AGENCY_ID", None)

    async def program(*argv: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "phananh_agency",
            "--agency",
            agency,
            *argv,
            env=env,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    status, out, err = await program("inbox")
    assert (status, err) == (0, "")
    assert f"{report.code} · chủ trì · hạn " in out
    assert "QUÁ HẠN" not in out

    async with TopicWatcher(kafka_bootstrap, agency_updates_topic(agency).name) as updates:
        status, out, err = await program("accept", report.code, "--json")
        assert (status, err) == (0, "")
        printed = json.loads(out)
        (update,) = await updates.wait_for(lambda e: e.id == printed["id"])
    assert update.source == f"/agencies/{agency}"
    assert update.data.kind == AgencyUpdateKind.ACCEPTED

    status, out, err = await program("resolve", new_code(), "--note", "Xong")
    assert (status, out) == (1, "")
    assert "không có trong hộp thư" in err


async def test_a_missing_an_empty_or_an_unreachable_inbox_is_said_plainly(
    kafka_settings: KafkaSettings, kafka_bootstrap: str, capsys: Any
) -> None:
    empty = f"test-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_settings, [agency_inbox_topic(empty)])
    try:
        status, out, _ = await officer(
            ["--agency", empty, "--bootstrap", kafka_bootstrap, "inbox"], capsys
        )
        assert status == 0
        assert "trống: không có phản ánh nào đang xử lý" in out
    finally:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        await admin.delete_topics([agency_inbox_topic(empty).name])
        await admin.close()

    missing = f"test-{uuid.uuid4().hex[:8]}"
    status, out, err = await officer(
        ["--agency", missing, "--bootstrap", kafka_bootstrap, "accept", new_code()], capsys
    )
    assert (status, out) == (1, "")
    assert f"chưa có hộp thư pakn.inbox.{missing}.v1" in err
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        assert f"pakn.inbox.{missing}.v1" not in await admin.list_topics(), "inbox auto-created"
    finally:
        await admin.close()

    status, out, err = await officer(
        ["--agency", missing, "--bootstrap", "127.0.0.1:1", "inbox"], capsys
    )
    assert (status, out) == (2, "")
    assert "không kết nối được Kafka tại 127.0.0.1:1" in err
