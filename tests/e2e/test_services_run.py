"""The four services start as separate OS processes, the way `phananh up` runs them.

Each answers liveness, readiness (its broker and database really reached) and
metrics, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from phananh_cli.stack import LocalStack, Paths
from phananh_contracts import REPORTS_TOPIC
from phananh_platform.settings import MongoSettings

from tests.support.kafka import TopicWatcher

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"intake": True, "routing": True, "notify": True, "audit": True}
"""Service name -> whether its readiness includes the database."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def send(request: urllib.request.Request) -> tuple[int, bytes]:
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_ready(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 60
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if get(url)[0] in (200, 503):
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} never answered:\n{log.read_text()[-3000:]}")


class Service:
    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log = log
        executable = shutil.which(f"phananh-{name}")
        assert executable, f"console script phananh-{name} is not installed"
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [executable],
                env={**env, "PHANANH_HTTP__PORT": str(self.port), "PHANANH_LOG_FORMAT": "json"},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_ready(self.url("/healthz"), self.process, log)

    def wait_until_consuming(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while get(self.url("/readyz"))[0] != 200:
            assert time.monotonic() < deadline, f"{self.name} never became ready"
            time.sleep(0.3)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@pytest.fixture
def base_env(kafka_bootstrap: str, mongo_settings: MongoSettings, tmp_path: Path) -> dict[str, str]:
    # The same secrets `phananh up` makes for a local stack, in a scratch data directory.
    secrets = LocalStack(Paths(root=ROOT, data=tmp_path / "data"), say=lambda _: None)
    return {
        **os.environ,
        **secrets.local_secrets(),
        "PHANANH_CITY_CONFIG": str(ROOT / "config" / "son-la" / "city.yaml"),
        "PHANANH_ROUTING_CONFIG": str(ROOT / "config" / "son-la" / "routing.yaml"),
        "PHANANH_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "PHANANH_MONGODB__URL": mongo_settings.url.get_secret_value(),
        "PHANANH_MONGODB__DATABASE": mongo_settings.database,
        "PHANANH_HTTP__HOST": "127.0.0.1",
    }


@pytest.fixture
def running(base_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, Service]]:
    started: dict[str, Service] = {}
    try:
        for name in SERVICES:
            started[name] = Service(name, base_env, tmp_path / f"{name}.log")
        for service in started.values():
            service.wait_until_consuming()
        yield started
    finally:
        for service in started.values():
            service.stop()


def test_every_service_is_alive_ready_and_measured(running: dict[str, Service]) -> None:
    for name, uses_database in SERVICES.items():
        service = running[name]

        status, body = get(service.url("/healthz"))
        assert (status, json.loads(body)["service"]) == (200, name)

        status, body = get(service.url("/readyz"))
        readiness = json.loads(body)
        assert status == 200, f"{name} not ready: {readiness}"
        expected = {
            "consumers": "started",
            "kafka": "ok",
            **({"database": "ok"} if uses_database else {}),
        }
        assert readiness["checks"] == expected

        status, body = get(service.url("/metrics"))
        assert status == 200
        assert b"# TYPE pakn_consumer_errors_total counter" in body


def test_services_stop_cleanly_on_sigterm(running: dict[str, Service]) -> None:
    for name, service in running.items():
        assert service.stop() == 0, f"{name} did not exit cleanly:\n{service.log.read_text()}"
        lines = [json.loads(line) for line in service.log.read_text().splitlines() if line]
        messages = [line.get("message") for line in lines]
        assert f"{name} started" in messages
        assert f"{name} stopped" in messages, "consumers were not stopped before exit"


def test_readiness_names_an_unreachable_database(base_env: dict[str, str], tmp_path: Path) -> None:
    env = {
        **base_env,
        "PHANANH_MONGODB__URL": f"mongodb://127.0.0.1:{free_port()}/?directConnection=true",
        "PHANANH_MONGODB__SERVER_SELECTION_TIMEOUT_MS": "300",
    }
    audit = Service("audit", env, tmp_path / "audit.log")
    try:
        status, body = get(audit.url("/readyz"))
        assert status == 503
        assert json.loads(body)["checks"] == {
            "consumers": "starting",
            "kafka": "ok",
            "database": "unreachable",
        }
        assert get(audit.url("/healthz"))[0] == 200, "liveness must not depend on the database"
    finally:
        assert audit.stop() == 0


async def test_a_report_posted_to_intake_is_canonical_and_in_the_audit_trail(
    running: dict[str, Service], base_env: dict[str, str], kafka_bootstrap: str
) -> None:
    key = json.loads(base_env["PHANANH_API_KEYS"])["app:sonla-smart"]
    body = json.dumps(
        {
            "text": "Đèn đường ở tổ 8 phường Chiềng Sinh hỏng cả tuần, buổi tối rất tối",
            "anonymous": True,
            "consent": False,
        },
        ensure_ascii=False,
    ).encode()
    request = urllib.request.Request(
        running["intake"].url("/channels/app/reports"),
        data=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    async with TopicWatcher(kafka_bootstrap, REPORTS_TOPIC.name) as reports:
        status, answer = await asyncio.to_thread(send, request)
        assert status == 202
        (code,) = json.loads(answer)["tracking_codes"]
        (event,) = await reports.wait_for(lambda e: e.data.tracking_code == code, timeout_s=60)
    assert event.data.place.ward_name == "Chiềng Sinh"
    assert event.data.reporter.anonymous is True

    # Routing assigns it; the audit process records both; leadership reads the trail.
    leadership = json.loads(base_env["PHANANH_OVERSIGHT_KEYS"])["leadership:thanh-uy"]
    trail_request = urllib.request.Request(
        running["audit"].url(f"/oversight/v1/reports/{code}/trail"),
        headers={"X-Api-Key": leadership},
    )
    wanted = {"vn.pakn.report.received", "vn.pakn.report.assigned", "vn.pakn.report.status.changed"}
    deadline = time.monotonic() + 60
    while True:
        try:
            status, answer = await asyncio.to_thread(send, trail_request)
        except urllib.error.HTTPError as error:
            status, answer = error.code, b""
        types = {r["event_type"] for r in json.loads(answer)["records"]} if status == 200 else set()
        if wanted <= types:
            break
        assert time.monotonic() < deadline, f"the trail never held {wanted - types} ({status})"
        await asyncio.sleep(0.5)
    trail = json.loads(answer)
    assert trail["tracking_code"] == code
    received = next(r for r in trail["records"] if r["event_type"] == "vn.pakn.report.received")
    assert received["actor"]["kind"] == "citizen"
    assigned = next(r for r in trail["records"] if r["event_type"] == "vn.pakn.report.assigned")
    assert assigned["actor"] == {"kind": "service", "id": "routing"}
