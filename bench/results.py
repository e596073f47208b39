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


def markdown(document: dict[str, Any]) -> str:
    facts = document["machine"]
    lines = [
        f"# Pipeline benchmark, {document['started_at']}",
        "",
        f"Machine: {facts['cores']} cores ({facts['cpu_model']}), {facts['memory_gib']} GiB, "
        f"Linux {facts['kernel']}, Python {facts['python']}; Kafka, the database "
        f"({facts['database']}) and all services on the same host; load average at start "
        f"{facts['load_average_at_start']}. Intended rate: {document['rate']} reports/s.",
        "",
        "## Throughput (reports/s) and ratios",
        "",
        "| reports | pipeline (→ audited) | pass-through, 4 hops | Kafka producer | "
        "Kafka consumer | pipeline / pass-through | pipeline / Kafka producer | lost |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in document["runs"]:
        base, pipe, ratios = run["baselines"], run["pipeline"], run["ratios"]
        lines.append(
            f"| {run['reports']} | {pipe['throughput_per_s']['audited']} | "
            f"{base['pass_through']['throughput_per_s']} | "
            f"{base['kafka_producer_performance']['records_per_s']:.0f} | "
            f"{base['kafka_consumer_performance']['records_per_s']:.0f} | "
            f"{ratios['pipeline_vs_pass_through']} | {ratios['pipeline_vs_kafka_producer']} | "
            f"{sum(pipe['lost'].values())} |"
        )
    lines += [
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
        chain = run["baselines"]["pass_through"]["latency_ms"]
        lines.append(
            f"| {run['reports']} | pass-through, 4 hops | {chain.get('p50')} | "
            f"{chain.get('p95')} | {chain.get('p99')} | {chain.get('max')} | {chain['count']} |"
        )
    lines += [
        "",
        "## CPU time per report (ms) and peak RSS (MB)",
        "",
        "| reports | intake | routing | notify | audit | kafka | database | "
        "pass-through (4 hops, CPU) |",
        "|---:|---|---|---|---|---|---|---:|",
    ]
    for run in document["runs"]:
        pipe = run["pipeline"]
        cells = [
            f"{pipe['cpu_ms_per_report'].get(name, '–')} ms / "
            f"{pipe['peak_rss_mb'].get(name, '–')} MB"
            for name in ("intake", "routing", "notify", "audit", "kafka", "database")
        ]
        lines.append(
            f"| {run['reports']} | "
            + " | ".join(cells)
            + f" | {run['baselines']['pass_through']['cpu_ms_per_record']} ms |"
        )
    lines += [
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
    lines.append("")
    return "\n".join(lines)


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
        "pass-through, 4 hops": [
            run["baselines"]["pass_through"]["throughput_per_s"] for run in runs
        ],
        "Kafka ProducerPerformance": [
            run["baselines"]["kafka_producer_performance"]["records_per_s"] for run in runs
        ],
    }
    for label, values in series.items():
        left.plot(sizes, values, marker="o", label=label)
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
    right.plot(
        sizes,
        [run["baselines"]["pass_through"]["latency_ms"].get("p99", 0) for run in runs],
        marker="o",
        linestyle="--",
        label="p99 pass-through",
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
