"""The dashboards and alert rules are real: a real Prometheus scrapes the running services.

Intake, routing and audit run in this process as ``create_app`` builds them, each served
by uvicorn on its own port against the real Kafka broker and database. Reports arrive
through intake's HTTP front (accepted and refused ones, one with a phone number and an
e-mail address), a poison record lands on the raw channel topic, and reports received
in 2023 (long overdue) go to routing. Prometheus (Debian's package, installed by
scripts/install-prometheus.sh) scrapes the three every second with the real alert rules
loaded; then every PromQL expression of the Grafana dashboards and of the alert rules is
asked through the HTTP API and must parse and return data. Alert expressions are asked
with their comparison made ``bool`` (``up == bool 0``), which returns every series the
query sees instead of only the firing ones.

Only notify's series are exempt from returning data (``NOTIFY_ONLY``, with the reason):
no notify runs here. Their queries must still parse.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml
from audit.app import create_app as audit_app
from audit.settings import Settings as AuditSettings
from intake.app import create_app as intake_app
from intake.settings import Settings as IntakeSettings
from phananh_contracts import ALL_TOPICS, CHANNEL_RAW_TOPIC, ReportReceivedEvent
from phananh_contracts.examples import REPORT_RECEIVED
from phananh_platform.kafka import RecordProducer, ensure_topics
from phananh_platform.logs import JsonFormatter
from phananh_platform.privacy import new_contact_key
from phananh_platform.runtime import ServiceApp
from phananh_platform.settings import HttpSettings, KafkaSettings, MongoSettings
from pydantic import SecretStr
from routing.app import create_app as routing_app
from routing.settings import Settings as RoutingSettings

from tests.support.servers import in_ci
from tests.unit.test_ops_dashboards import (
    NOTIFY_ONLY,
    RULES,
    alert_expressions,
    dashboard_expressions,
    metric_names,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
CITY = ROOT / "config" / "son-la" / "city.yaml"
APP_KEY = "app-key-ops-0123456789abcdef"
PHONE, EMAIL = "0912 345 678", "lo.van.minh@example.vn"
SEED = (
    "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, tổ 8, phường "
    "Chiềng Sinh, lấn chiếm lối đi và gây mất vệ sinh."
)


def prometheus_binary() -> str:
    found = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if os.access("/usr/bin/prometheus", os.X_OK) else None
    )
    if found is None:
        message = "no prometheus binary: run scripts/install-prometheus.sh (as root)"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def eventually(check: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 90) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):  # not up yet
            last = await check()
            if last:
                return last
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@dataclass
class Running:
    name: str
    app: ServiceApp
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def serve(name: str, app: ServiceApp, port: int) -> AsyncIterator[Running]:
    """The service as ``serve()`` runs it, on a real port, inside this event loop."""
    config = uvicorn.Config(
        app.asgi(),
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(), name=f"serve {name}")
    running = Running(name, app, port)
    try:
        async with httpx.AsyncClient() as http:

            async def ready() -> bool:
                return (await http.get(f"{running.url}/readyz")).status_code == 200

            await eventually(ready, f"{name} ready")
        yield running
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)


@contextlib.contextmanager
def json_log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(service="ops-test", instance="ops-test"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@contextlib.contextmanager
def prometheus(targets: dict[str, int], workdir: Path) -> Iterator[str]:
    """A Prometheus of its own (port, configuration, data), with the real alert rules."""
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in sorted(RULES.glob("*.y*ml"))],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{target}"]}]}
            for job, target in targets.items()
        ],
    }
    config_file = workdir / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            prometheus_binary(),
            f"--config.file={config_file}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        if process.returncode not in (0, -15):
            print((workdir / "prometheus.log").read_text(errors="replace")[-4000:])


def golden_report() -> ReportReceivedEvent:
    """The seed's report, received on 14 March 2023: overdue since 21 March 2023."""
    data = REPORT_RECEIVED.data.model_copy(update={"report_id": str(uuid.uuid4())})
    return ReportReceivedEvent.new(data, source="/services/intake")


async def send_traffic(kafka: KafkaSettings, intake: Running) -> list[str]:
    """Reports through intake's front (two accepted, one refused), one poison record on
    the raw topic, two overdue reports straight to routing; the accepted tracking codes."""
    codes = []
    async with httpx.AsyncClient(base_url=intake.url) as http:
        for payload in (
            {"text": SEED, "contact": {"name": "Lò Văn Minh", "phone": PHONE, "email": EMAIL}},
            {"text": SEED.replace("tổ 8", "tổ 9"), "location": {"lat": 21.3035, "lon": 103.9472}},
            {"text": "alo"},  # too short: refused
        ):
            response = await http.post(
                "/channels/app/reports",
                json={
                    "client_message_id": str(uuid.uuid4()),
                    "anonymous": False,
                    "consent": True,
                    **payload,
                },
                headers={"Authorization": f"Bearer {APP_KEY}"},
            )
            assert response.status_code == 202, response.text
            codes.extend(response.json()["tracking_codes"])
    producer = RecordProducer(kafka, client_id="ops-test-traffic")
    await producer.start()
    try:
        await producer.send(
            CHANNEL_RAW_TOPIC.name, key=b"app:poison", value=b"\xff not an event", headers=[]
        )
        for _ in range(2):
            await producer.publish(golden_report().to_kafka())
    finally:
        await producer.stop()
    return codes


class PrometheusApi:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def query(self, expr: str) -> dict[str, Any]:
        response = await self.http.get("/api/v1/query", params={"query": expr})
        body: dict[str, Any] = response.json()
        return body

    async def series(self, expr: str) -> list[Any]:
        body = await self.query(expr)
        return list(body["data"]["result"]) if body.get("status") == "success" else []


@pytest.fixture
async def services(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings
) -> AsyncIterator[dict[str, Running]]:
    await ensure_topics(kafka_settings, ALL_TOPICS)
    common: dict[str, Any] = {
        "kafka": kafka_settings,
        "mongodb": mongo_settings,
        "metrics_refresh_s": 1.0,
        "retry_backoff_max_s": 1.0,
    }
    ports = {name: free_port() for name in ("intake", "routing", "audit")}
    apps = {
        "intake": intake_app(
            IntakeSettings(
                **common,
                http=HttpSettings(port=ports["intake"]),
                city_config=CITY,
                tracking_secret=SecretStr("tracking-secret-for-ops-0123456789"),
                contact_keys=[SecretStr(new_contact_key())],
                pseudonym_key=SecretStr("pseudonym-key-for-ops-0123456789ab"),
                api_keys={"app:ops": SecretStr(APP_KEY)},
            )
        ),
        "routing": routing_app(
            RoutingSettings(
                **common,
                http=HttpSettings(port=ports["routing"]),
                routing_config=ROOT / "config" / "son-la" / "routing.yaml",
                city_config=CITY,
                deadline_check_interval_s=0.5,
                rules_scope=f"ops-{uuid.uuid4().hex[:12]}",
            )
        ),
        "audit": audit_app(
            AuditSettings(**common, http=HttpSettings(port=ports["audit"]), city_config=CITY)
        ),
    }
    async with contextlib.AsyncExitStack() as stack:
        running = {
            name: await stack.enter_async_context(serve(name, app, ports[name]))
            for name, app in apps.items()
        }
        yield running


async def test_every_dashboard_and_alert_query_returns_data_from_the_running_services(
    services: dict[str, Running], kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    with json_log_lines() as logs:
        codes = await send_traffic(kafka_settings, services["intake"])
        async with httpx.AsyncClient() as http:

            async def shows(service: str, text: str) -> bool:
                body = (await http.get(f"{services[service].url}/metrics/")).text
                return text in body

            # The effects downstream: routing's gauges and audit's trail have figures.
            await eventually(lambda: shows("routing", "pakn_routing_overdue_cases{"), "overdue")
            await eventually(lambda: shows("audit", "pakn_audit_chain_length{"), "audit chains")
            await eventually(
                lambda: shows("intake", 'pakn_dlq_records{topic="pakn.dlq.intake'), "dlq"
            )
            await eventually(
                lambda: shows("intake", 'classification="poison",outcome="dead_lettered"'),
                "the poison record dead-lettered",
            )

        with prometheus({name: r.port for name, r in services.items()}, tmp_path) as url:
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                api = PrometheusApi(http)

                async def started() -> bool:
                    return (await http.get("/-/ready")).status_code == 200

                await eventually(started, "Prometheus ready")

                async def scraped() -> bool:
                    ups = await api.series("up")
                    return len(ups) == 3 and all(s["value"][1] == "1" for s in ups)

                await eventually(scraped, "Prometheus scraping the three services")

                async def rules_evaluated() -> bool:
                    groups = (await http.get("/api/v1/rules")).json()["data"]["groups"]
                    rules = [rule for group in groups for rule in group["rules"]]
                    return bool(rules) and all(rule["health"] == "ok" for rule in rules)

                await eventually(rules_evaluated, "the alert rules evaluated without error")
                await asyncio.sleep(6)  # enough samples for rate() and increase()
                problems = await check_queries(api)

    assert not problems, "queries that fail or return nothing:\n" + "\n".join(problems)
    assert_log_lines_name_messages_without_contacts(logs.getvalue(), codes)


async def check_queries(api: PrometheusApi) -> list[str]:
    queries = [(where, expr) for where, expr in dashboard_expressions()] + [
        (f"{where} (as bool)", booled) for where, _, booled in alert_expressions()
    ]
    assert len(queries) > 30
    problems = []
    for where, expr in queries:
        body = await api.query(expr)
        if body.get("status") != "success":
            problems.append(f"{where}: {body.get('errorType')}: {body.get('error')}  [{expr}]")
            continue
        notify_only = metric_names(expr) & set(NOTIFY_ONLY)
        if not body["data"]["result"] and not notify_only:
            problems.append(f"{where}: no data  [{expr}]")
    return problems


def assert_log_lines_name_messages_without_contacts(text: str, codes: list[str]) -> None:
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    received = [line for line in lines if line["message"] == "report received"]
    assert received, "intake logged no 'report received' line"
    for line in received:
        for key in ("event_id", "report_id", "topic", "partition", "offset"):
            assert key in line, f"{key} missing from {line}"
        assert line["topic"] == CHANNEL_RAW_TOPIC.name
    assigned = [line for line in lines if line["message"].startswith("report assigned")]
    assert assigned and all("offset" in line and "report_id" in line for line in assigned)
    digits = PHONE.replace(" ", "")
    for needle in (PHONE, digits, digits[1:], EMAIL, "Lò Văn Minh"):
        assert needle not in text, f"personal data in the logs: {needle!r}"
    assert codes
