"""Routing's decisions without I/O, against decoding the same events, in one run.

    uv run python -m bench.routing_decisions --reports 2000

For N canonical reports (the seed's, varied in ward, category and priority) measures:
the baseline — decoding each report and three agency updates from Kafka bytes and encoding
three events back (what any consumer on these topics pays) — and routing's work on top:
opening the case (rules, working calendar, inbox tasks) and deciding on an acceptance, a
decline with re-routing, and a resolution, with every fact encoded as a Kafka record.
Prints JSON with both rates, their ratio and the machine's size. Speed is never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

from phananh_contracts import (
    AGENCY_UPDATES_TOPIC,
    REPORTS_TOPIC,
    AgencyUpdate,
    AgencyUpdateEvent,
    Priority,
    ReportReceivedEvent,
    decode_event,
)
from phananh_contracts.examples import REPORT_RECEIVED
from phananh_contracts.values import AgencyUpdateKind, Place
from routing.adapters.rules_file import load_ruleset
from routing.domain.calendar import WorkingCalendar
from routing.domain.case import apply_update, open_case
from routing.handlers import record_of

ROOT = Path(__file__).resolve().parents[1]
WARDS = [
    ("03646", "Tô Hiệu"),
    ("03664", "Chiềng An"),
    ("03670", "Chiềng Cơi"),
    ("03679", "Chiềng Sinh"),
]
CATEGORIES = ["urban_order", "environmental_sanitation", "traffic_safety", "security_order"]


def reports(count: int) -> list[bytes]:
    """The Kafka bytes of ``count`` reports varied in ward, category and priority."""
    made = []
    base = REPORT_RECEIVED.data
    for number in range(count):
        code, name = WARDS[number % len(WARDS)]
        data = base.model_copy(
            update={
                "report_id": str(uuid.uuid4()),
                "category": CATEGORIES[number % len(CATEGORIES)],
                "priority": Priority.URGENT if number % 7 == 0 else Priority.NORMAL,
                "place": Place(ward_code=code, ward_name=name),
            }
        )
        made.append(ReportReceivedEvent.new(data, source="/services/intake").to_kafka().value)
    return made


def run(count: int) -> dict[str, float]:
    rules = load_ruleset(ROOT / "config/son-la/routing.yaml")
    calendar = WorkingCalendar()
    now = REPORT_RECEIVED.data.received_at + timedelta(minutes=5)
    # Prepare the updates (who holds each report is routing's answer).
    prepared: list[tuple[bytes, list[bytes]]] = []
    for value in reports(count):
        event = decode_event(REPORTS_TOPIC.name, value)
        decision = open_case(rules, calendar, event.data, now=now)
        assert decision is not None and decision.case is not None
        lead = decision.case.lead.agency_id
        other = "ioc-tiep-nhan" if lead != "ioc-tiep-nhan" else "ubnd-thanh-pho"

        def update(
            agency: str,
            kind: AgencyUpdateKind,
            note: str | None,
            report_id: str = event.data.report_id,
            **extra: str,
        ) -> bytes:
            data = AgencyUpdate(
                report_id=report_id,
                agency_id=agency,
                kind=kind,
                note=note,
                updated_at=now,
                **extra,  # type: ignore[arg-type]
            )
            return AgencyUpdateEvent.new(data, source=f"/agencies/{agency}").to_kafka().value

        prepared.append(
            (
                value,
                [
                    update(lead, AgencyUpdateKind.ACCEPTED, None),
                    update(
                        lead,
                        AgencyUpdateKind.REJECTED,
                        "Không thuộc thẩm quyền.",
                        suggested_agency_id=other,
                    ),
                    update(other, AgencyUpdateKind.RESOLVED, "Đã xử lý xong."),
                ],
            )
        )

    started = time.perf_counter()
    for value, updates in prepared:
        report = decode_event(REPORTS_TOPIC.name, value)
        report.to_kafka()
        for raw in updates:
            decode_event(AGENCY_UPDATES_TOPIC.name, raw).to_kafka()
    baseline = time.perf_counter() - started

    started = time.perf_counter()
    facts = 0
    for value, updates in prepared:
        report = decode_event(REPORTS_TOPIC.name, value)
        decision = open_case(rules, calendar, report.data, now=now)
        assert decision is not None
        case = decision.case
        facts += len([record_of(fact) for fact in decision.facts])
        for raw in updates:
            event = decode_event(AGENCY_UPDATES_TOPIC.name, raw)
            decision = apply_update(case, event.id, event.data, rules, calendar, now=now)
            assert decision.refused is None, decision.refused
            case = decision.case
            facts += len([record_of(fact) for fact in decision.facts])
    routing = time.perf_counter() - started
    return {
        "reports": count,
        "facts_published": facts,
        "baseline_reports_per_s": round(count / baseline, 1),
        "routing_reports_per_s": round(count / routing, 1),
        "routing_ms_per_report": round(1000 * routing / count, 3),
        "ratio_routing_to_baseline": round(baseline / routing, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=2000)
    args = parser.parse_args()
    result = run(args.reports)
    result["machine"] = {
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
