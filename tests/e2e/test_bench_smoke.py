"""The pipeline benchmark keeps working: a smoke run measures every stage and loses nothing.

Nothing here is about speed (timing goals live in the benchmark's results, not in
tests): the run is 50 reports on a platform started for it, with tiny baselines.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.pipeline import STAGES, main

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(240)
def test_a_smoke_run_measures_every_stage_and_every_baseline(tmp_path: Path) -> None:
    main(["--smoke", "--out", str(tmp_path), "--name", "smoke"])

    document = json.loads((tmp_path / "smoke.json").read_text(encoding="utf-8"))
    assert (tmp_path / "smoke.md").read_text(encoding="utf-8").startswith("# Pipeline")
    assert document["machine"]["cores"] and document["machine"]["memory_gib"]
    (run,) = document["runs"]
    pipeline = run["pipeline"]
    assert run["reports"] == 50
    assert pipeline["zero_loss"], pipeline["lost"]
    for stage in STAGES:
        latency = pipeline["latency_ms"][stage]
        assert latency["count"] == pipeline["expected"][stage] > 0, stage
        assert latency["p50"] <= latency["p99"] <= latency["max"]
        assert pipeline["throughput_per_s"][stage] > 0
    for service in ("intake", "routing", "notify", "audit", "kafka", "database"):
        assert pipeline["peak_rss_mb"][service] > 0, service
        assert pipeline["cpu_ms_per_report"][service] >= 0
    baselines = run["baselines"]
    assert baselines["kafka_producer_performance"]["records_per_s"] > 0
    assert baselines["kafka_consumer_performance"]["records"] > 0
    assert baselines["pass_through"]["publish"] == "batch"
    assert baselines["pass_through"]["arrived"] == 50
    assert baselines["pass_through_one_at_a_time"]["arrived"] == 50
    assert pipeline["sustained"]["owed_at_end_of_send"]["audited"] >= 0
    assert pipeline["driver"]["peak_rss_mb"] > 0
    assert all(value is not None for value in run["ratios"].values()), run["ratios"]
