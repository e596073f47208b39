"""The whole platform as separate OS processes, for end-to-end tests.

A :class:`Platform` runs its own Kafka broker, database and the four services exactly as
``phananh up`` does (the same :class:`LocalStack`, in a scratch data directory on free
ports), with notify pointed at local provider servers (a real HTTP server standing in for
the app back end, Zalo, the SMS gateway and Facebook; a real SMTP server). Tests talk to it
only through public interfaces: intake's HTTP front, the topics, the agency client, the
oversight API, the providers' endpoints. They can kill and restart any component.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from phananh_cli.stack import LocalStack, Paths, Ports
from phananh_platform.settings import KafkaSettings

from tests.support.providers import MailServer, ProviderServer

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_PATHS = {
    "app-push": "/app/push",
    "zalo-oa": "/zalo/oa",
    "zalo-zns": "/zalo/zns",
    "sms": "/sms",
    "facebook": "/facebook",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def notify_config(
    directory: Path, http: ProviderServer, smtp_port: int, *, claim_lease_s: float = 60
) -> Path:
    """The reference notify configuration with every provider on the local servers."""
    document = yaml.safe_load((ROOT / "config/son-la/notify.yaml").read_text(encoding="utf-8"))
    document["templates_dir"] = str(ROOT / "config/son-la/notify/templates")
    for provider in document["providers"]:
        provider["timeout_s"] = 3
        if provider["id"] in PROVIDER_PATHS:
            provider["url"] = http.url(PROVIDER_PATHS[provider["id"]])
        if provider["kind"] == "smtp":
            provider.update(host="127.0.0.1", port=smtp_port, security="none", username=None)
    document["retry"] = {"max_attempts": 2, "base_delay_s": 0.2, "max_delay_s": 1.0}
    document["claim_lease_s"] = claim_lease_s  # a send cut short by a crash is retried then
    path = directory / "notify.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


@dataclass
class Platform:
    stack: LocalStack
    http: ProviderServer
    mail: MailServer
    instances: dict[str, int] = field(default_factory=dict)
    """Extra service instances started by the test: component name -> HTTP port."""

    @property
    def kafka_bootstrap(self) -> str:
        return self.stack.kafka_bootstrap

    @property
    def kafka(self) -> KafkaSettings:
        """How tests watch the topics: as the operator (who reads every topic) when the
        broker is secured."""
        return self.stack.kafka_settings("operator")

    def kafka_as(self, principal: str) -> KafkaSettings:
        return self.stack.kafka_settings(principal)

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.stack.ports.services[service]}{path}"

    def secret(self, name: str) -> Any:
        value = self.stack.local_secrets()[name]
        return json.loads(value) if value[:1] in "[{" else value

    def env(self, principal: str = "operator") -> dict[str, str]:
        """The environment a tool run next to the services gets (signed in as
        ``principal`` when the broker is secured)."""
        return {**os.environ, **self.stack.service_env(principal)}

    def run(
        self,
        *argv: str,
        timeout_s: float = 120,
        principal: str = "operator",
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """A console script of the project (phananh-agency, phananh-audit …), signed in
        as ``principal``, with ``env`` over its environment."""
        executable = str(Path(sys.executable).parent / argv[0])
        return subprocess.run(
            [executable, *argv[1:]],
            capture_output=True,
            text=True,
            env={**self.env(principal), **(env or {})},
            timeout=timeout_s,
            check=False,
        )

    def post(
        self, service: str, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        return self.post_to(service, path, body, headers)

    def post_to(
        self, component: str, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """POST to one process of a service (e.g. 'intake' or 'intake-b')."""
        request = urllib.request.Request(
            self.instance_url(component, path),
            data=json.dumps(body, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json", **headers},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, {}

    def get(self, service: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        request = urllib.request.Request(self.url(service, path), headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    # ---------------------------------------------------------------- faults
    def kill(self, component: str) -> None:
        """SIGKILL a component's process group: no clean shutdown, nothing flushed."""
        pid = self.stack.pid(component)
        assert pid is not None, f"{component} is not running"
        os.killpg(pid, signal.SIGKILL)
        self.stack.paths.pid_file(component).unlink(missing_ok=True)

    async def add_instance(self, service: str, instance: str) -> str:
        """Another process of ``service`` in the same consumer groups; its component name."""
        component = f"{service}-{instance}"
        port = self.instances.setdefault(component, free_port())
        await asyncio.to_thread(
            self.stack.start_service, service, 90.0, instance=instance, port=port
        )
        return component

    def components(self) -> list[str]:
        """Every service process: the stack's four and the extra instances."""
        return [*LocalStack.SERVICES, *self.instances]

    def instance_url(self, component: str, path: str) -> str:
        port = self.instances.get(component) or self.stack.ports.services[component]
        return f"http://127.0.0.1:{port}{path}"

    async def start(self, component: str) -> None:
        if component in self.instances:
            service, _, instance = component.partition("-")
            await self.add_instance(service, instance)
        elif component in self.stack.kafka_components():
            await asyncio.to_thread(self.stack.start_kafka)  # the nodes not running
        elif component == "database":
            await asyncio.to_thread(self.stack.start_database)
        else:
            await asyncio.to_thread(self.stack.start_service, component, 90.0)

    async def stop(self, component: str) -> None:
        await asyncio.to_thread(self.stack.stop, component)

    def logs(self) -> dict[str, str]:
        return {
            path.stem: path.read_text(encoding="utf-8", errors="replace")
            for path in self.stack.paths.logs.glob("*.log")
        }


ARTIFACTS = ROOT / "test-artifacts" / "e2e"


TEST_PACE = {
    "PHANANH_DEADLINE_CHECK_INTERVAL_S": "1",
    "PHANANH_AUDIT_CHECKPOINT_INTERVAL_S": "5",
}
"""Timers quickened so that tests see a breach or a checkpoint within seconds."""


@asynccontextmanager
async def running_platform(
    directory: Path,
    *,
    name: str = "platform",
    pace: dict[str, str] | None = None,
    kafka_security: str = "none",
    kafka_brokers: int = 1,
) -> AsyncIterator[Platform]:
    """The platform started in ``directory``; stopped (everything) on the way out.

    ``pace`` sets the services' timers (default :data:`TEST_PACE`; ``{}`` keeps the
    services' own defaults, as deployed). ``kafka_security="sasl"`` starts a broker that
    admits only signed-in principals and enforces the access plan's ACLs; each service
    then signs in as its own principal. ``kafka_brokers=3`` starts a 3-node KRaft cluster
    (replication factor 3, ``min.insync.replicas`` 2). The processes' logs are kept in
    ``test-artifacts/e2e/<name>/`` for after the run.
    """
    ports = Ports(
        kafka=free_port(),
        kafka_controller=free_port(),
        database=free_port(),
        services={name: free_port() for name in LocalStack.SERVICES},
        kafka_nodes=tuple((free_port(), free_port()) for _ in range(kafka_brokers - 1)),
    )
    stack = LocalStack(
        Paths(root=ROOT, data=directory / "data"),
        ports,
        say=lambda _: None,
        kafka_security=kafka_security,
        kafka_brokers=kafka_brokers,
    )
    async with ProviderServer() as http:
        with MailServer() as mail:
            previous = dict(os.environ)
            os.environ["PHANANH_NOTIFY_CONFIG"] = str(notify_config(directory, http, mail.port))
            os.environ["PHANANH_NOTIFY_PROVIDER_SECRETS"] = json.dumps(
                {name: f"local-token-{name}" for name in PROVIDER_PATHS}
            )
            os.environ.update(TEST_PACE if pace is None else pace)
            platform = Platform(stack, http, mail)
            try:
                await asyncio.to_thread(stack.up)
                yield platform
            finally:
                for component in platform.instances:
                    await asyncio.to_thread(stack.stop, component)
                await asyncio.to_thread(stack.down)
                kept = ARTIFACTS / name
                shutil.rmtree(kept, ignore_errors=True)
                if stack.paths.logs.is_dir():
                    shutil.copytree(stack.paths.logs, kept)
                os.environ.clear()
                os.environ.update(previous)
