"""Intake's decisions alone: CPU per report of each pure step, no servers.

The whole-pipeline benchmark (``bench.pipeline``) says how much CPU intake spends per
report; this says on which step, and lets a change to one step be measured in seconds:
the benchmark's own raw messages (``bench.traffic``) go through the normalizer's pure
steps in batches as the service fetches them (parse, decide, near-duplicate linking,
building the events), with the near-duplicate buckets kept in memory as the store would
return them. Databases, Kafka and the contact sealing (Fernet, a fixed cost per contact)
are left out.

    uv run python -m bench.intake_domain --reports 4000 --batch 500
    uv run python -m bench.intake_domain --reports 4000 --profile /tmp/intake.prof

Prints JSON: CPU milliseconds per report for each step and in all, and how many reports
were linked as near duplicates (so a faster linking that links differently shows).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from intake.adapters.category_model import load_category_model
from intake.config import load_city_config
from intake.domain.batch import (
    Accepted,
    Arrival,
    Bucket,
    Known,
    Skipped,
    candidate_buckets,
    decide,
    link_duplicates,
    parse_batch,
)
from intake.domain.normalize import Keys
from phananh_contracts import RawChannelMessageReceivedEvent

from bench.traffic import raw_message

CITY = Path(__file__).resolve().parents[1] / "config" / "son-la" / "city.yaml"


def _seal(contact: object, pseudonym: str, tracking_code: str | None) -> str:
    return "sealed"  # Fernet's fixed cost is not what this measures


def run(reports: int, batch_size: int, profile: Path | None = None) -> dict[str, object]:
    """Feed ``reports`` benchmark messages through intake's pure steps; CPU per step."""
    config = load_city_config(CITY)
    model_path = config.classification.model_path(CITY)
    model = load_category_model(model_path, config) if model_path else None
    keys = replace(Keys(tracking_secret=b"t" * 32, pseudonym_key=b"p" * 32), seal=_seal)
    start = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    arrivals = []
    for number in range(reports):
        message = raw_message(number, "domain", received_at=start + timedelta(seconds=number / 200))
        event = RawChannelMessageReceivedEvent.model_validate_json(message.value)
        arrivals.append(Arrival(event.id, event.data))

    spent: dict[str, float] = {"parse": 0.0, "decide": 0.0, "link": 0.0, "events": 0.0}
    stored: dict[str, Bucket] = {}
    linked_count = 0

    @contextmanager
    def timed(step: str) -> Iterator[None]:
        began = time.process_time()
        yield
        spent[step] += time.process_time() - began

    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    for first in range(0, reports, batch_size):
        chunk = arrivals[first : first + batch_size]
        now = start + timedelta(seconds=(first + len(chunk)) / 200)
        with timed("parse"):
            parsed = parse_batch(chunk, config)
        with timed("decide"):
            outcomes = decide(parsed, Known(), config=config, keys=keys, now=now, model=model)
        wanted = candidate_buckets(outcomes, config)
        buckets = {bucket_id: stored[bucket_id] for bucket_id in wanted if bucket_id in stored}
        with timed("link"):
            linked = link_duplicates(outcomes, buckets, config)
        for bucket_id, entries in linked.appends.items():
            held = stored.get(bucket_id, Bucket(0))
            stored[bucket_id] = Bucket(held.size + len(entries), held.entries + tuple(entries))
        decided = [o for o in linked.outcomes if not isinstance(o, Skipped)]
        with timed("events"):
            for outcome in decided:
                outcome.event().to_kafka()
        linked_count += sum(
            1 for o in decided if isinstance(o, Accepted) and o.new.report.duplicate_of
        )
    if profiler and profile:
        profiler.disable()
        profiler.dump_stats(str(profile))
    total = sum(spent.values())
    return {
        "reports": reports,
        "batch": batch_size,
        "cpu_ms_per_report": {step: round(s * 1000 / reports, 4) for step, s in spent.items()},
        "cpu_ms_per_report_total": round(total * 1000 / reports, 4),
        "linked_as_duplicates": linked_count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    print(json.dumps(run(args.reports, args.batch, args.profile), indent=2))


if __name__ == "__main__":
    main()
