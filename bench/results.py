"""The pipeline benchmark's results as JSON, a markdown table and a plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STAGE_NAMES = {
    "reported": "intake → canonical report",
    "assigned": "intake → assigned",
    "notified": "intake → notification sent",
    "audited": "intake → audited",
}


BATCH_LABEL = "pass-through, 4 hops, batch published"
"""The primary baseline: each hop publishes its fetched batch at once, then commits."""
ONE_LABEL = "pass-through, one publish at a time"
"""The earlier baseline: each hop awaits every publish before the next."""


def pass_throughs(run: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The batch-published and the one-at-a-time pass-through of a run ({} when absent).

    Results written before the batch form existed have one pass-through, published one
    record at a time, under ``pass_through`` with no ``publish`` field."""
    base = run["baselines"]
    primary = base.get("pass_through") or {}
    if primary.get("publish") == "batch":
        return primary, base.get("pass_through_one_at_a_time") or {}
    return {}, primary


def pass_through_ratios(run: dict[str, Any]) -> tuple[Any, Any]:
    """pipeline ÷ the batch-published pass-through, and ÷ the one-at-a-time one."""
    ratios = run["ratios"]
    batch, _ = pass_throughs(run)
    if batch:
        return ratios.get("pipeline_vs_pass_through"), ratios.get(
            "pipeline_vs_pass_through_one_at_a_time", "–"
        )
    return "–", ratios.get("pipeline_vs_pass_through")


def _cell(row: dict[str, Any], name: str, suffix: str = "") -> str:
    value = row.get(name)
    return "–" if value is None else f"{value}{suffix}"


def markdown(document: dict[str, Any]) -> str:
    facts = document["machine"]
    lines = [
        f"# Pipeline benchmark, {document['started_at']}",
        "",
        f"Machine: {facts['cores']} cores ({facts['cpu_model']}), {facts['memory_gib']} GiB, "
        f"Linux {facts['kernel']}, Python {facts['python']}; Kafka, the database "
        f"({facts['database']}) and all services on the same host; load average at start "
        f"{facts['load_average_at_start']}. Intended rate: {document['rate']} reports/s.",
    ]
    for section in (_throughput, _sustained, _latency, _cpu, _limits, _database_commands):
        lines += section(document)
    lines.append("")
    return "\n".join(lines)


def _throughput(document: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Throughput (reports/s; records/s through 4 hops for the pass-through) and ratios",
        "",
        f"The {BATCH_LABEL}: each hop publishes its fetched batch at once (the acks awaited "
        f"together) and commits once, the honest ceiling of four Python hops with acks=all. "
        f"The {ONE_LABEL}: the same, each publish awaited before the next (the earlier "
        "baseline). Both: idempotent producer, acks=all, commit after the batch's acks.",
        "",
        f"| reports | rate | pipeline (→ audited) | {BATCH_LABEL} | {ONE_LABEL} | "
        "Kafka producer | Kafka consumer | pipeline / pass-through | "
        "pipeline / pass-through, one at a time | pipeline / Kafka producer | lost |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in document["runs"]:
        base, pipe, ratios = run["baselines"], run["pipeline"], run["ratios"]
        batch, one = pass_throughs(run)
        versus_batch, versus_one = pass_through_ratios(run)
        one_cell = _cell(one, "throughput_per_s")
        if one and one.get("records") != run["reports"]:
            one_cell += f" ({one['records']} records)"
        lines.append(
            f"| {run['reports']} | {run.get('rate', document['rate'])} | "
            f"{pipe['throughput_per_s']['audited']} | {_cell(batch, 'throughput_per_s')} | "
            f"{one_cell} | {base['kafka_producer_performance']['records_per_s']:.0f} | "
            f"{base['kafka_consumer_performance']['records_per_s']:.0f} | "
            f"{versus_batch} | {versus_one} | {ratios['pipeline_vs_kafka_producer']} | "
            f"{sum(pipe['lost'].values())} |"
        )
    return lines


def _sustained(document: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    sustained = [run for run in document["runs"] if run["pipeline"].get("sustained")]
    if sustained:
        lines += [
            "",
            "## While the load was sent: reached per second, and owed at the end of the send",
            "",
            "| reports | intended rate | sent at | send s | → reported | → assigned | "
            "→ notified | → audited | owed → audited at end of send | drained s |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for run in sustained:
            held = run["pipeline"]["sustained"]
            during = held["reached_during_send_per_s"]
            lines.append(
                f"| {run['reports']} | {held['intended_rate_per_s'] or 'max'} | "
                f"{held['send_rate_per_s']}/s | {held['send_s']} | {during['reported']}/s | "
                f"{during['assigned']}/s | {during['notified']}/s | {during['audited']}/s | "
                f"{held['owed_at_end_of_send']['audited']} | {run['pipeline']['drained_s']} |"
            )
    return lines


def _latency(document: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Latency from the intended send time (ms, HdrHistogram)",
        "",
        "| reports | stage | p50 | p95 | p99 | max | count |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for run in document["runs"]:
        for stage, name in STAGE_NAMES.items():
            value = run["pipeline"]["latency_ms"][stage]
            lines.append(
                f"| {run['reports']} | {name} | {value.get('p50')} | {value.get('p95')} | "
                f"{value.get('p99')} | {value.get('max')} | {value['count']} |"
            )
        for label, chain in zip((BATCH_LABEL, ONE_LABEL), pass_throughs(run), strict=True):
            if not chain:
                continue
            value = chain["latency_ms"]
            lines.append(
                f"| {run['reports']} | {label} | {value.get('p50')} | {value.get('p95')} | "
                f"{value.get('p99')} | {value.get('max')} | {value['count']} |"
            )
    return lines


def _cpu(document: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## CPU time per report (ms) and peak RSS (MB)",
        "",
        "The pass-through columns are the four forwarders' CPU per record, all hops "
        "together (Kafka's during it in brackets). The benchmark's own process (publisher, "
        "topic readers) is listed apart and counted in no total.",
        "",
        "| reports | intake | routing | notify | audit | kafka | database | "
        f"{BATCH_LABEL} (CPU) | {ONE_LABEL} (CPU) | benchmark driver |",
        "|---:|---|---|---|---|---|---|---:|---:|---|",
    ]
    for run in document["runs"]:
        pipe = run["pipeline"]
        cells = [
            f"{pipe['cpu_ms_per_report'].get(name, '–')} ms / "
            f"{pipe['peak_rss_mb'].get(name, '–')} MB"
            for name in ("intake", "routing", "notify", "audit", "kafka", "database")
        ]
        for chain in pass_throughs(run):
            cell = _cell(chain, "cpu_ms_per_record", " ms")
            if chain.get("kafka_cpu_ms_per_record") is not None:
                cell += f" ({chain['kafka_cpu_ms_per_record']} ms)"
            cells.append(cell)
        driver = pipe.get("driver") or {}
        cells.append(
            f"{driver['cpu_ms_per_report']} ms / {driver['peak_rss_mb']} MB" if driver else "–"
        )
        lines.append(f"| {run['reports']} | " + " | ".join(cells) + " |")
    return lines


def _limits(document: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Where a report's CPU goes (ms per report, share) and the ceiling it sets",
        "",
        "| reports | total | services | Kafka | database | ceiling (cores ÷ total) | "
        "database commands per report | database CPU per command (own baseline) | "
        "database CPU predicted / measured |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in document["runs"]:
        limit = run.get("limits")
        if not limit:
            continue
        cpu = run["pipeline"]["cpu_ms_per_report"]
        services = sum(v for k, v in cpu.items() if k not in ("kafka", "database"))
        lines.append(
            f"| {run['reports']} | {limit['cpu_ms_per_report']} | {services:.1f} | "
            f"{cpu.get('kafka', 0):.1f} | {cpu.get('database', 0):.1f} | "
            f"{limit['ceiling_per_s']}/s | {limit['database_commands_per_report']} | "
            f"{limit['database_cpu_ms_per_command']} ms | "
            f"{limit['database_cpu_ms_per_report_predicted']} / {cpu.get('database', 0):.1f} ms |"
        )
    return lines


def _database_commands(document: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for run in document["runs"]:
        commands = run["pipeline"].get("database_commands") or []
        if not commands:
            continue
        lines += [
            "",
            f"## Database commands during the load, {run['reports']} reports "
            "(the costliest, as each service's driver timed them)",
            "",
            "| service | command | collection | per report | mean ms | ms per report |",
            "|---|---|---|---:|---:|---:|",
        ]
        for row in commands[:12]:
            lines.append(
                f"| {row['service']} | {row['command']} | {row['collection']} | "
                f"{row['commands_per_report']} | {row['mean_ms']} | {row['ms_per_report']} |"
            )
    return lines


def plot(document: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = document["runs"]
    sizes = [run["reports"] for run in runs]
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    series = {
        "pipeline → audited": [run["pipeline"]["throughput_per_s"]["audited"] for run in runs],
        "pipeline → report": [run["pipeline"]["throughput_per_s"]["reported"] for run in runs],
        BATCH_LABEL: [pass_throughs(run)[0].get("throughput_per_s") for run in runs],
        ONE_LABEL: [pass_throughs(run)[1].get("throughput_per_s") for run in runs],
        "Kafka ProducerPerformance": [
            run["baselines"]["kafka_producer_performance"]["records_per_s"] for run in runs
        ],
    }
    for label, values in series.items():
        if any(value is not None for value in values):
            points = [float("nan") if value is None else value for value in values]
            left.plot(sizes, points, marker="o", label=label)
    left.set(xscale="log", yscale="log", xlabel="reports", ylabel="records per second")
    left.set_title("Throughput")
    left.legend(fontsize=8)
    for stage, name in STAGE_NAMES.items():
        right.plot(
            sizes,
            [run["pipeline"]["latency_ms"][stage].get("p99", 0) for run in runs],
            marker="o",
            label=f"p99 {name}",
        )
    for index, (label, style) in enumerate(((BATCH_LABEL, "--"), (ONE_LABEL, ":"))):
        values = [pass_throughs(run)[index].get("latency_ms", {}).get("p99") for run in runs]
        if any(value is not None for value in values):
            right.plot(
                sizes,
                [float("nan") if value is None else value for value in values],
                marker="o",
                linestyle=style,
                label=f"p99 {label}",
            )
    right.set(xscale="log", yscale="log", xlabel="reports", ylabel="ms from intended send")
    right.set_title(f"p99 latency at {document['rate']} reports/s")
    right.legend(fontsize=8)
    facts = document["machine"]
    figure.suptitle(
        f"Phản ánh pipeline — {facts['cores']} cores {facts['cpu_model']}, "
        f"{facts['memory_gib']} GiB, everything co-located",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_results(
    document: dict[str, Any], directory: Path, stem: str, *, plot_it: bool
) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / f"{stem}.json", directory / f"{stem}.md"]
    written[0].write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    written[1].write_text(markdown(document), encoding="utf-8")
    if plot_it:
        written.append(directory / f"{stem}.png")
        plot(document, written[-1])
    return written
