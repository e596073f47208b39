"""The local stack: a real Kafka broker, a MongoDB-wire database and the services.

Everything runs as plain processes on 127.0.0.1 under the project's data
directory (``data/`` at the repository root unless ``PHANANH_DATA_DIR`` says
otherwise):

* Kafka: the Apache Kafka jars of ``deploy/local/kafka/pom.xml`` fetched from
  Maven Central once, a single-node KRaft store formatted once, the broker
  started with ``java``.
* Database: ``mongod`` when one is on PATH, else FerretDB (SQLite backend)
  built once from ``deploy/local/ferretdb`` through the Go module proxy.
  ``PHANANH_FERRETDB_POSTGRESQL_URL`` puts FerretDB on a PostgreSQL server instead
  (measured slower here, docs/benchmark.md; kept to repeat the measurement).
* Services: ``phananh-intake``, ``phananh-routing``, ``phananh-notify``,
  ``phananh-audit``, each with its HTTP port.
* Outbox: unless ``PHANANH_NOTIFY_CONFIG`` names real providers, a local stand-in for
  them (``phananh_cli.outbox``) to which notify delivers; messages land in
  ``data/outbox.jsonl``.

Process ids live in ``data/run/*.pid`` and logs in ``data/logs/*.log``, so
``phananh down`` and ``phananh status`` work from any shell.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import hashlib
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from phananh_contracts import ALL_TOPICS
from phananh_contracts.access import OPERATOR_PRINCIPAL, service_principal
from phananh_platform.kafka import ensure_topics, wait_for_kafka, warm_group_coordinator
from phananh_platform.mongo import wait_for_mongo
from phananh_platform.privacy import new_contact_key
from phananh_platform.settings import KafkaSettings, MongoSettings
from pydantic import SecretStr

from phananh_cli.kafka_security import AclChange, agency_ids, set_passwords, sync_acls

T = TypeVar("T")
OUTBOX_PROVIDERS = ("app-push", "zalo-oa", "zalo-zns", "sms", "facebook")

LOCAL_API_CLIENTS = (
    "app:sonla-smart",
    "web:cong-thong-tin",
    "hotline:tong-dai",
    "email:relay",
    "collaborator:mang-luoi-ctv",
    "open311:clients",
)
LOCAL_OVERSIGHT_ROLES = ("leadership:thanh-uy", "auditor:ubkt")
KAFKA_VERSION_PATTERN = re.compile(r"<kafka.version>([^<]+)</kafka.version>")
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
KAFKA_SECURITY_ENV = "PHANANH_LOCAL_KAFKA_SECURITY"
"""``sasl``: the local broker admits only signed-in principals and enforces ACLs."""
KAFKA_BROKERS_ENV = "PHANANH_LOCAL_KAFKA_BROKERS"
"""3 or more: a local KRaft cluster of that many nodes, replication factor 3,
``min.insync.replicas`` 2 (one node may die without losing an acknowledged record)."""
KAFKA_BUILT_IN_USERS = ("admin", "broker", "controller")
"""Principals the secured broker knows from its start: the operators' super user, the
broker's own (between listeners) and the controller's (PLAIN, its listener only)."""


class StackError(RuntimeError):
    """A problem the operator can fix; the message says how."""


def find_project_root() -> Path:
    """The repository root: ``PHANANH_HOME``, else the first parent holding deploy/local."""
    if home := os.environ.get("PHANANH_HOME"):
        return Path(home).resolve()
    for start in (Path.cwd(), Path(__file__).resolve()):
        for candidate in (start, *start.parents):
            if (candidate / "deploy" / "local" / "kafka" / "pom.xml").is_file():
                return candidate
    raise StackError(
        "cannot find the project (deploy/local/kafka/pom.xml): run phananh from the "
        "repository, or set PHANANH_HOME to its path"
    )


@dataclass(frozen=True)
class Ports:
    """Where the local stack listens; each can be moved with an environment variable."""

    kafka: int = 9092
    kafka_controller: int = 9093
    database: int = 27017
    outbox: int = 8089
    """The local stand-in for notify's providers (``phananh_cli.outbox``)."""
    services: dict[str, int] = field(
        default_factory=lambda: {"intake": 8081, "routing": 8082, "notify": 8083, "audit": 8084}
    )
    kafka_nodes: tuple[tuple[int, int], ...] = ()
    """(client port, controller port) of the brokers after the first, in a local cluster;
    empty: the first's ports plus 2, 4 …"""

    @classmethod
    def from_env(cls) -> Ports:
        default = cls()
        env = os.environ

        def port(name: str, fallback: int) -> int:
            return int(env.get(f"PHANANH_LOCAL_{name.upper()}_PORT", fallback))

        return cls(
            kafka=port("kafka", default.kafka),
            kafka_controller=port("kafka_controller", default.kafka_controller),
            database=port("database", default.database),
            outbox=port("outbox", default.outbox),
            services={name: port(name, value) for name, value in default.services.items()},
        )


@dataclass(frozen=True)
class Paths:
    root: Path
    data: Path

    @classmethod
    def resolve(cls) -> Paths:
        root = find_project_root()
        data = Path(os.environ.get("PHANANH_DATA_DIR", root / "data")).resolve()
        return cls(root=root, data=data)

    @property
    def local(self) -> Path:
        return self.root / "deploy" / "local"

    @property
    def cache(self) -> Path:
        return self.local / ".cache"

    @property
    def run(self) -> Path:
        return self.data / "run"

    @property
    def logs(self) -> Path:
        return self.data / "logs"

    def pid_file(self, component: str) -> Path:
        return self.run / f"{component}.pid"

    def log_file(self, component: str) -> Path:
        return self.logs / f"{component}.log"


Say = Callable[[str], None]


def _say(message: str) -> None:
    print(message, flush=True)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _empty_sqlite_files(directory: Path) -> list[Path]:
    """SQLite files in ``directory`` holding no table at all."""
    import sqlite3

    empty = []
    for path in sorted(directory.glob("*.sqlite")) if directory.is_dir() else []:
        try:
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                (tables,) = db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error:
            continue  # not ours to judge: FerretDB will say what is wrong with it
        if tables == 0:
            empty.append(path)
    return empty


def _digest(*files: Path) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _require_tool(tool: str, why: str, how: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise StackError(f"{tool} not found on PATH; it is needed to {why}. {how}")
    return path


def _java_major(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)', out.stderr + out.stdout)
    return int(match.group(1)) if match else 0


def _go_minor(go: str) -> tuple[int, int]:
    out = subprocess.run([go, "version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"go(\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


@dataclass
class ProcessSpec:
    """A component started as a detached background process."""

    name: str
    argv: Sequence[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None


class LocalStack:
    """Starts, stops and reports on the local stack."""

    SERVICES = ("intake", "routing", "notify", "audit")

    def __init__(
        self,
        paths: Paths | None = None,
        ports: Ports | None = None,
        say: Say = _say,
        *,
        kafka_security: str | None = None,
        kafka_brokers: int | None = None,
    ) -> None:
        self.paths = paths or Paths.resolve()
        self.ports = ports or Ports.from_env()
        self.say = say
        # Not given: the environment's, else the mode the running stack was started in
        # (so `phananh watch`, `env` … in another terminal reach it the same way).
        started = self._started_kafka_mode()
        self.kafka_security = (
            kafka_security or os.environ.get(KAFKA_SECURITY_ENV) or started.get("security", "none")
        )
        if self.kafka_security not in ("none", "sasl", "sasl_ssl"):
            raise StackError(
                f"{KAFKA_SECURITY_ENV}={self.kafka_security!r}: use 'sasl' (clients sign in, "
                "ACLs enforced), 'sasl_ssl' (the same over TLS) or 'none'"
            )
        self.kafka_brokers = kafka_brokers or int(
            os.environ.get(KAFKA_BROKERS_ENV) or started.get("brokers", "1")
        )
        if self.kafka_brokers == 2 or self.kafka_brokers < 1:
            raise StackError(
                f"{KAFKA_BROKERS_ENV}={self.kafka_brokers}: use 1, or 3 and more (a quorum "
                "of controllers must survive the loss of one)"
            )
        if self.clustered and self.secured:
            raise StackError(
                f"{KAFKA_BROKERS_ENV} and {KAFKA_SECURITY_ENV} cannot be combined locally yet"
            )

    # ----------------------------------------------------------------- addresses
    @property
    def clustered(self) -> bool:
        return self.kafka_brokers > 1

    def kafka_nodes(self) -> list[tuple[int, str, int, int]]:
        """(node id, component name, client port, controller port) of every broker."""
        nodes = [(1, "kafka", self.ports.kafka, self.ports.kafka_controller)]
        for number in range(2, self.kafka_brokers + 1):
            if len(self.ports.kafka_nodes) >= number - 1:
                port, controller = self.ports.kafka_nodes[number - 2]
            else:
                step = 2 * (number - 1)
                port, controller = self.ports.kafka + step, self.ports.kafka_controller + step
            nodes.append((number, f"kafka-{number}", port, controller))
        return nodes

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for _, _, port, _ in self.kafka_nodes())

    @property
    def database_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.ports.database}/?directConnection=true&retryWrites=false"

    @property
    def secured(self) -> bool:
        return self.kafka_security in ("sasl", "sasl_ssl")

    @property
    def tls(self) -> bool:
        return self.kafka_security == "sasl_ssl"

    @property
    def kafka_ca_file(self) -> Path:
        """The CA that signed the local broker's TLS certificate (clients trust it)."""
        return self.paths.data / "kafka-tls" / "ca.pem"

    def kafka_tls_files(self) -> tuple[Path, Path]:
        """The local CA and the broker's key with its certificate chain (PEM), made once:
        a CA of this stack signs a certificate for 127.0.0.1 and localhost."""
        directory = self.kafka_ca_file.parent
        keystore = directory / "broker.pem"
        if not (self.kafka_ca_file.is_file() and keystore.is_file()):
            ca_pem, broker_pem = _local_tls_certificates()
            directory.mkdir(parents=True, exist_ok=True)
            self.kafka_ca_file.write_bytes(ca_pem)
            _write_private(keystore, broker_pem.decode())
        return self.kafka_ca_file, keystore

    def kafka_passwords(self) -> dict[str, str]:
        """The secured broker's principals and their passwords, made once at random and
        kept in <data>/kafka-credentials.json (readable by this user only)."""
        path = self.paths.data / "kafka-credentials.json"
        stored: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
        wanted = [*KAFKA_BUILT_IN_USERS, OPERATOR_PRINCIPAL]
        wanted += [service_principal(name) for name in self.SERVICES]
        if all(name in stored for name in wanted):
            return stored
        merged = {name: secrets.token_urlsafe(24) for name in wanted} | stored
        _write_private(path, json.dumps(merged, indent=2) + "\n")
        return merged

    def kafka_settings(self, principal: str = "admin") -> KafkaSettings:
        """How ``principal`` reaches this stack's broker (anyone, when it is not secured)."""
        settings = KafkaSettings(
            bootstrap_servers=self.kafka_bootstrap,
            replication_factor=3 if self.clustered else 1,
            min_insync_replicas=2 if self.clustered else 1,
        )
        if not self.secured:
            return settings
        signed_in = settings.for_principal(principal, self.kafka_passwords()[principal])
        if not self.tls:
            return signed_in
        return signed_in.model_copy(
            update={"security_protocol": "SASL_SSL", "ssl_cafile": str(self.kafka_ca_file)}
        )

    def kafka_env(self, principal: str) -> dict[str, str]:
        """``PHANANH_KAFKA__*`` for a client signing in as ``principal``."""
        env = {"PHANANH_KAFKA__BOOTSTRAP_SERVERS": self.kafka_bootstrap}
        if self.clustered:
            env |= {
                "PHANANH_KAFKA__REPLICATION_FACTOR": "3",
                "PHANANH_KAFKA__MIN_INSYNC_REPLICAS": "2",
            }
        if self.tls:
            env["PHANANH_KAFKA__SSL_CAFILE"] = str(self.kafka_ca_file)
        if self.secured:
            env |= {
                "PHANANH_KAFKA__SECURITY_PROTOCOL": "SASL_SSL" if self.tls else "SASL_PLAINTEXT",
                "PHANANH_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
                "PHANANH_KAFKA__USERNAME": principal,
                "PHANANH_KAFKA__PASSWORD": self.kafka_passwords()[principal],
            }
        return env

    def service_env(self, principal: str = OPERATOR_PRINCIPAL) -> dict[str, str]:
        """Environment that points a service (or a test, or an operator's shell) at this
        stack; on a secured broker it signs in as ``principal``."""
        return {
            **self.kafka_env(principal),
            "PHANANH_MONGODB__URL": self.database_url,
            "PHANANH_CITY_CONFIG": str(self.paths.root / "config" / "son-la" / "city.yaml"),
            "PHANANH_ROUTING_CONFIG": str(self.routing_config),
            # FerretDB's SQLite backend answers only _id from an index: others slow inserts.
            **(
                {"PHANANH_MONGODB__QUERY_INDEXES": "false"}
                if self.database_kind() == "ferretdb"
                and not os.environ.get("PHANANH_FERRETDB_POSTGRESQL_URL")
                else {}
            ),
            **self.local_secrets(),
        }

    def local_secrets(self) -> dict[str, str]:
        """Secrets of this local stack, made once at random and kept in data/secrets.json.

        They let the services start locally without an operator inventing keys; a real
        deployment sets its own (see .env.example).
        """
        path = self.paths.data / "secrets.json"
        stored: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
        wanted = _new_local_secrets()
        if set(wanted) <= set(stored):
            return stored
        merged = {**wanted, **stored}  # keep what exists, add what a newer version needs
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_suffix(f".{os.getpid()}.tmp")
        draft.write_text(json.dumps(merged, indent=2) + "\n")
        draft.chmod(0o600)  # secrets: readable by this user only
        os.replace(draft, path)  # atomic: a concurrent reader sees old or new, never half
        return merged

    # ------------------------------------------------------------ process table
    def pid(self, component: str) -> int | None:
        """The pid of a running component started by this stack, else None."""
        pid_file = self.paths.pid_file(component)
        try:
            pid_text, _, started = pid_file.read_text().strip().partition(" ")
            pid = int(pid_text)
        except (FileNotFoundError, ValueError):
            return None
        if started and started != _start_time(pid):
            # The pid was reused (e.g. after a reboot): that process is not ours.
            pid_file.unlink(missing_ok=True)
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            pid_file.unlink(missing_ok=True)
            return None
        except PermissionError:
            return pid
        if _is_zombie(pid):
            pid_file.unlink(missing_ok=True)
            return None
        return pid

    def _start(self, spec: ProcessSpec) -> int:
        if (running := self.pid(spec.name)) is not None:
            self.say(f"  {spec.name}: already running (pid {running})")
            return running
        if not port_is_free(spec.port):
            raise StackError(
                f"port {spec.port} on 127.0.0.1 is taken by another program, so {spec.name} "
                f"cannot listen there. Stop that program, or move {spec.name} with "
                f"PHANANH_LOCAL_{spec.name.upper()}_PORT=<free port>"
            )
        self.paths.run.mkdir(parents=True, exist_ok=True)
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        log = self.paths.log_file(spec.name).open("ab")
        process = subprocess.Popen(
            list(spec.argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=spec.cwd,
            env={**os.environ, **spec.env},
            start_new_session=True,
        )
        log.close()
        self.paths.pid_file(spec.name).write_text(f"{process.pid} {_start_time(process.pid)}\n")
        return process.pid

    def _wait(self, name: str, ready: Callable[[], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.pid(name) is None:
                raise StackError(
                    f"{name} exited during start-up; its log says:\n"
                    f"{_tail(self.paths.log_file(name))}"
                )
            if ready():
                return
            time.sleep(0.3)
        raise StackError(
            f"{name} did not become ready within {timeout_s:.0f}s; see "
            f"{self.paths.log_file(name)}:\n{_tail(self.paths.log_file(name))}"
        )

    def stop(self, component: str, *, timeout_s: float = 30.0) -> bool:
        """SIGTERM a component, then SIGKILL if it does not exit in time."""
        pid = self.pid(component)
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.pid(component) is not None:
            time.sleep(0.2)
        if self.pid(component) is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            time.sleep(0.2)
        self.paths.pid_file(component).unlink(missing_ok=True)
        return True

    # ------------------------------------------------------------------- kafka
    def kafka_classpath(self) -> Path:
        """Fetch the broker jars from Maven Central once; later calls download nothing."""
        pom = self.paths.local / "kafka" / "pom.xml"
        libs = self.paths.cache / "kafka" / _digest(pom)
        if (libs / ".complete").is_file():
            return libs
        mvn = _require_tool(
            "mvn",
            "fetch Apache Kafka from Maven Central",
            "Install Maven 3.8+ (Debian: apt-get install maven).",
        )
        self.say(f"  kafka: fetching Apache Kafka {self.kafka_version()} jars with Maven …")
        libs.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(pom),
                f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={libs}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(
                "Maven could not fetch Kafka (is Maven Central reachable?):\n"
                + (result.stdout + result.stderr)[-3000:]
            )
        (libs / ".complete").write_text(self.kafka_version())
        return libs

    def kafka_version(self) -> str:
        pom = (self.paths.local / "kafka" / "pom.xml").read_text()
        match = KAFKA_VERSION_PATTERN.search(pom)
        return match.group(1) if match else "unknown"

    def _java(self) -> str:
        java = _require_tool(
            "java",
            "run the Kafka broker",
            "Install Java 17+ (Debian: apt-get install openjdk-17-jre-headless).",
        )
        if (major := _java_major(java)) < 17:
            raise StackError(f"Kafka {self.kafka_version()} needs Java 17 or newer; found {major}")
        return java

    @property
    def kafka_data(self) -> Path:
        """The broker's directory; a secured broker keeps its own (its store holds the
        SCRAM credentials it was formatted with)."""
        return self.paths.data / ("kafka-sasl" if self.secured else "kafka")

    def _kafka_config(self) -> Path:
        kafka_data = self.kafka_data
        kafka_data.mkdir(parents=True, exist_ok=True)
        name = "server-sasl.properties" if self.secured else "server.properties"
        template = (self.paths.local / "kafka" / name).read_text()
        passwords = self.kafka_passwords() if self.secured else {}
        config = template.format(
            kafka_port=self.ports.kafka,
            controller_port=self.ports.kafka_controller,
            log_dirs=kafka_data / "logs",
            broker_password=passwords.get("broker", ""),
            controller_password=passwords.get("controller", ""),
            client_protocol="SASL_SSL" if self.tls else "SASL_PLAINTEXT",
            tls=self._tls_properties(),
        )
        path = kafka_data / "server.properties"
        _write_private(path, config)  # holds the broker's passwords when secured
        log4j = (self.paths.local / "kafka" / "log4j2.properties").read_text()
        log4j_path = kafka_data / "log4j2.properties"
        log4j_path.write_text(
            log4j.replace("{log_file}", str(self.paths.logs / "kafka-server.log"))
        )
        return path

    def _tls_properties(self) -> str:
        if not self.tls:
            return ""
        ca, keystore = self.kafka_tls_files()
        return (
            "# TLS on the clients' listener: the broker's key and certificate chain, and the\n"
            "# local CA it trusts when it connects to itself (PEM files made by `phananh up`).\n"
            f"ssl.keystore.type=PEM\nssl.keystore.location={keystore}\n"
            f"ssl.truststore.type=PEM\nssl.truststore.location={ca}\n"
        )

    def start_kafka(self, timeout_s: float = 90.0) -> None:
        if self.clustered:
            self.start_kafka_cluster(timeout_s)
            return
        if self.pid("kafka") is not None:
            self.say(f"  kafka: already running on {self.kafka_bootstrap}")
            return
        java = self._java()
        libs = self.kafka_classpath()
        config = self._kafka_config()
        classpath = f"{libs}/*"
        log4j = f"-Dlog4j2.configurationFile={config.parent / 'log4j2.properties'}"
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        if not (config.parent / "logs" / "meta.properties").is_file():
            secured = " that admits only signed-in clients" if self.secured else ""
            self.say(f"  kafka: formatting a new single-node KRaft store{secured}")
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            scram = (
                [
                    f"--add-scram=SCRAM-SHA-512=[name={user},password={password}]"
                    for user, password in self.kafka_passwords().items()
                    if user in ("admin", "broker")
                ]
                if self.secured
                else []
            )
            result = subprocess.run(
                [java, "-cp", classpath, log4j, "kafka.tools.StorageTool", "format",
                 "--standalone", f"--cluster-id={cluster_id}", "-c", str(config), *scram],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if result.returncode != 0:
                raise StackError(
                    f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}"
                )
        for port in (self.ports.kafka, self.ports.kafka_controller):
            if not port_is_free(port):
                raise StackError(
                    f"port {port} on 127.0.0.1 is taken by another program, so Kafka cannot "
                    f"listen there. Stop it, or move Kafka with PHANANH_LOCAL_KAFKA_PORT / "
                    f"PHANANH_LOCAL_KAFKA_CONTROLLER_PORT"
                )
        self.say(f"  kafka: starting Apache Kafka {self.kafka_version()} (KRaft) …")
        self._start(
            ProcessSpec(
                name="kafka",
                argv=[java, "-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                      log4j, "-cp", classpath, "kafka.Kafka", str(config)],
                port=self.ports.kafka,
            )
        )  # fmt: skip
        self._wait("kafka", lambda: self._kafka_answers(), timeout_s)
        how = " (SASL/SCRAM-SHA-512, ACLs enforced)" if self.secured else ""
        how = " (TLS, SASL/SCRAM-SHA-512, ACLs enforced)" if self.tls else how
        self.say(f"  kafka: ready on {self.kafka_bootstrap}{how}")

    # ------------------------------------------------------------ kafka cluster
    def start_kafka_cluster(self, timeout_s: float = 120.0) -> None:
        """Every node of the local cluster not running yet (formatted on first use), then
        wait until every broker has joined."""
        java = self._java()
        classpath = f"{self.kafka_classpath()}/*"
        root = self.paths.data / "kafka-cluster"
        root.mkdir(parents=True, exist_ok=True)
        id_file = root / "cluster-id"
        if not id_file.is_file():
            id_file.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
        cluster_id = id_file.read_text().strip()
        voters = ",".join(
            f"{node}@127.0.0.1:{controller}" for node, _, _, controller in self.kafka_nodes()
        )
        template = (self.paths.local / "kafka" / "server-cluster.properties").read_text()
        log4j_template = (self.paths.local / "kafka" / "log4j2.properties").read_text()
        started = []
        for node, component, port, controller in self.kafka_nodes():
            if self.pid(component) is not None:
                continue
            directory = root / f"node-{node}"
            directory.mkdir(parents=True, exist_ok=True)
            config = directory / "server.properties"
            config.write_text(
                template.format(
                    node_id=node,
                    voters=voters,
                    kafka_port=port,
                    controller_port=controller,
                    log_dirs=directory / "logs",
                )
            )
            log4j_path = directory / "log4j2.properties"
            log_file = self.paths.logs / f"{component}-server.log"
            log4j_path.write_text(log4j_template.replace("{log_file}", str(log_file)))
            log4j = f"-Dlog4j2.configurationFile={log4j_path}"
            if not (directory / "logs" / "meta.properties").is_file():
                result = subprocess.run(
                    [java, "-cp", classpath, log4j, "kafka.tools.StorageTool", "format",
                     f"--cluster-id={cluster_id}", "-c", str(config)],
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
                if result.returncode != 0:
                    raise StackError(
                        f"formatting {component}'s storage failed:\n{result.stdout}{result.stderr}"
                    )
            for wanted in (port, controller):
                if not port_is_free(wanted):
                    raise StackError(
                        f"port {wanted} on 127.0.0.1 is taken by another program, so {component} "
                        "cannot listen there (the cluster's nodes use PHANANH_LOCAL_KAFKA_PORT "
                        "and PHANANH_LOCAL_KAFKA_CONTROLLER_PORT plus 2, 4 …)"
                    )
            self.paths.logs.mkdir(parents=True, exist_ok=True)
            self._start(
                ProcessSpec(
                    name=component,
                    argv=[java, "-Xms256m", "-Xmx768m", "-XX:+UseG1GC",
                          "-Djava.awt.headless=true", log4j, "-cp", classpath, "kafka.Kafka",
                          str(config)],
                    port=port,
                )
            )  # fmt: skip
            started.append(component)
        if started:
            self.say(
                f"  kafka: starting {', '.join(started)} of a {self.kafka_brokers}-node cluster"
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for _, component, _, _ in self.kafka_nodes():
                if component in started and self.pid(component) is None:
                    raise StackError(
                        f"{component} exited during start-up; its log says:\n"
                        f"{_tail(self.paths.log_file(component))}"
                    )
            if _run_async(_brokers_joined(self.kafka_settings())) >= self.kafka_brokers:
                self.say(f"  kafka: ready on {self.kafka_bootstrap} (3 replicas, 2 in sync)")
                return
            time.sleep(0.5)
        raise StackError(f"the Kafka cluster did not form within {timeout_s:.0f}s")

    def kafka_components(self) -> list[str]:
        return [component for _, component, _, _ in self.kafka_nodes()]

    def _kafka_answers(self) -> bool:
        if not port_answers(self.ports.kafka):
            return False
        return _run_async(_kafka_metadata_ok(self.kafka_settings()))

    def create_topics(self) -> list[str]:
        return _run_async(_create_topics(self.kafka_settings()))

    def secure_kafka(self) -> AclChange:
        """On a secured broker: every service's and the operator's credential, and the
        ACLs of the access plan for the agencies of the reference configuration."""
        admin = self.kafka_settings()
        passwords = self.kafka_passwords()
        set_passwords(admin, {p: passwords[p] for p in passwords if p not in KAFKA_BUILT_IN_USERS})
        return sync_acls(admin, agency_ids(self.routing_config))

    @property
    def routing_config(self) -> Path:
        return Path(
            os.environ.get("PHANANH_ROUTING_CONFIG")
            or self.paths.root / "config" / "son-la" / "routing.yaml"
        )

    # ---------------------------------------------------------------- database
    def ferretdb_binary(self) -> Path:
        """Build FerretDB through the Go module proxy once; later calls build nothing."""
        source = self.paths.local / "ferretdb"
        patches = sorted(source.glob("*.patch"))
        digest = _digest(source / "main.go", source / "go.mod", source / "go.sum", *patches)
        binary = self.paths.cache / "bin" / f"ferretdb-local-{digest}"
        if binary.is_file():
            return binary
        go = _require_tool(
            "go",
            "build FerretDB, the local MongoDB-wire database",
            "Install Go 1.24+ (https://go.dev/doc/install), or put a mongod on PATH.",
        )
        if _go_minor(go) < (1, 24):
            raise StackError("FerretDB v1.24 needs Go 1.24 or newer; see `go version`")
        self.say("  database: building FerretDB v1.24.2 with Go (first time only) …")
        binary.parent.mkdir(parents=True, exist_ok=True)
        modfile = self._ferretdb_patched(go, source, patches, binary.parent / f"src-{digest}")
        result = subprocess.run(
            [go, "build", "-trimpath", f"-modfile={modfile}", "-o", str(binary), "."],
            cwd=source,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "CGO_ENABLED": "0"},
        )
        if result.returncode != 0:
            raise StackError(
                f"building FerretDB failed:\n{(result.stdout + result.stderr)[-3000:]}"
            )
        shutil.rmtree(modfile.parent, ignore_errors=True)
        return binary

    @staticmethod
    def _ferretdb_patched(go: str, source: Path, patches: list[Path], work: Path) -> Path:
        """A patched copy of the FerretDB module and a go.mod (for ``-modfile``) using it.

        Each ``*.patch`` next to ``main.go`` is a unified diff against the FerretDB module
        (paths from its root). Go's module cache stays untouched and so does the
        project's go.mod: the build reads a copy that replaces the module with the patched
        tree.
        """

        def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
            done = subprocess.run(
                argv, cwd=cwd, capture_output=True, text=True, check=False, env=env
            )
            if done.returncode != 0:
                output = (done.stdout + done.stderr)[-3000:]
                raise StackError(f"{' '.join(argv)} failed:\n{output}")
            return done.stdout.strip()

        module = "github.com/FerretDB/FerretDB"
        run([go, "mod", "download", module], source)
        origin = Path(run([go, "list", "-m", "-f", "{{.Dir}}", module], source))
        shutil.rmtree(work, ignore_errors=True)
        tree = work / "ferretdb"
        shutil.copytree(origin, tree)
        for path in [tree, *tree.rglob("*")]:  # the module cache's files are read-only
            path.chmod(path.stat().st_mode | 0o200)
        for patch in patches:
            # Outside any repository, `git apply` is a strict `patch` (no fuzz).
            run(
                ["git", "apply", "-p1", str(patch)],
                tree,
                env={**os.environ, "GIT_CEILING_DIRECTORIES": str(work)},
            )
        modfile = work / "go.mod"
        modfile.write_text(
            (source / "go.mod").read_text(encoding="utf-8") + f"\nreplace {module} => {tree}\n",
            encoding="utf-8",
        )
        shutil.copyfile(source / "go.sum", work / "go.sum")
        return modfile

    def database_kind(self) -> str:
        return (
            "mongod"
            if shutil.which("mongod") and not os.environ.get("PHANANH_FERRETDB")
            else "ferretdb"
        )

    def start_database(self, timeout_s: float = 60.0) -> None:
        if self.pid("database") is not None:
            self.say(f"  database: already running on 127.0.0.1:{self.ports.database}")
            return
        if self.database_kind() == "mongod":
            data = self.paths.data / "mongod"
            data.mkdir(parents=True, exist_ok=True)
            argv: list[str] = [
                str(shutil.which("mongod")), "--bind_ip", "127.0.0.1",
                "--port", str(self.ports.database), "--dbpath", str(data),
            ]  # fmt: skip
            label = "mongod"
        else:
            data = self.paths.data / "ferretdb"
            for empty in _empty_sqlite_files(data):
                # FerretDB leaves a database file without tables when it is stopped while
                # creating one, then refuses to start ("no such table:
                # _ferretdb_collections"). Such a file holds nothing.
                self.say(f"  database: removing {empty.name}, an empty database file")
                for path in (empty, empty.with_name(empty.name + "-wal"),
                             empty.with_name(empty.name + "-shm")):  # fmt: skip
                    path.unlink(missing_ok=True)
            argv = [
                str(self.ferretdb_binary()),
                f"--listen-addr=127.0.0.1:{self.ports.database}",
                f"--data-dir={data}",
            ]
            label = "FerretDB v1.24.2 (SQLite)"
            if postgres := os.environ.get("PHANANH_FERRETDB_POSTGRESQL_URL"):
                argv.append(f"--postgresql-url={postgres}")
                label = "FerretDB v1.24.2 (PostgreSQL)"
        self.say(f"  database: starting {label} …")
        self._start(ProcessSpec(name="database", argv=argv, port=self.ports.database))
        self._wait("database", lambda: _run_async(_mongo_ping(self.database_url)), timeout_s)
        self.say(f"  database: ready on 127.0.0.1:{self.ports.database} ({label})")

    # ------------------------------------------------------------------ outbox
    @property
    def outbox_file(self) -> Path:
        return self.paths.data / "outbox.jsonl"

    def outbox_wanted(self) -> bool:
        """Whether notify should deliver to the local outbox (no providers configured)."""
        return "PHANANH_NOTIFY_CONFIG" not in os.environ

    def start_outbox(self, timeout_s: float = 30.0) -> None:
        port = self.ports.outbox
        self._start(
            ProcessSpec(
                name="outbox",
                argv=[
                    *(sys.executable, "-m", "phananh_cli.outbox"),
                    *("--port", str(port), "--file", str(self.outbox_file)),
                ],
                port=port,
            )
        )
        self._wait("outbox", lambda: _http_ok(f"http://127.0.0.1:{port}/healthz"), timeout_s)
        self.say(f"  outbox: notifications land in {self.outbox_file}")

    def notify_env(self) -> dict[str, str]:
        """notify's configuration pointing every HTTP provider at the local outbox."""
        reference = self.paths.root / "config" / "son-la" / "notify.yaml"
        document = yaml.safe_load(reference.read_text(encoding="utf-8"))
        document["templates_dir"] = str(reference.parent / document["templates_dir"])
        for provider in document["providers"]:
            if provider["id"] in OUTBOX_PROVIDERS:
                provider["url"] = f"http://127.0.0.1:{self.ports.outbox}/{provider['id']}"
        path = self.paths.data / "notify.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        tokens = {provider: f"local-{provider}" for provider in OUTBOX_PROVIDERS}
        return {
            "PHANANH_NOTIFY_CONFIG": str(path),
            "PHANANH_NOTIFY_PROVIDER_SECRETS": json.dumps(tokens),
        }

    # ---------------------------------------------------------------- services
    def start_service(
        self,
        name: str,
        timeout_s: float = 60.0,
        *,
        instance: str | None = None,
        port: int | None = None,
    ) -> None:
        """Start service ``name``; ``instance`` (with its own ``port``) adds another one.

        Instances of a service share its consumer groups, so Kafka spreads the partitions
        across them (and moves them when one stops).
        """
        port = port if port is not None else self.ports.services[name]
        component = name if instance is None else f"{name}-{instance}"
        executable = shutil.which(f"phananh-{name}") or str(
            Path(sys.executable).parent / f"phananh-{name}"
        )
        self._start(
            ProcessSpec(
                name=component,
                argv=[executable],
                port=port,
                env={
                    **self.service_env(service_principal(name)),
                    **(self.notify_env() if name == "notify" and self.outbox_wanted() else {}),
                    "PHANANH_HTTP__HOST": "127.0.0.1",
                    "PHANANH_HTTP__PORT": str(port),
                    "PHANANH_INSTANCE_ID": component,
                },
                cwd=self.paths.root,
            )
        )
        self._wait(component, lambda: _http_ok(f"http://127.0.0.1:{port}/readyz"), timeout_s)
        self.say(f"  {component}: ready on http://127.0.0.1:{port}")

    # -------------------------------------------------------------- whole stack
    def _started_kafka_mode(self) -> dict[str, str]:
        """How the running stack's Kafka was started (``phananh up`` keeps it while Kafka
        runs), so later commands need not repeat the variables."""
        path = self.paths.run / "kafka-mode.json"
        try:
            mode = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return {str(key): str(value) for key, value in mode.items()}

    def up(self, *, services: bool = True) -> None:
        self.say(f"Starting the local stack (data in {self.paths.data})")
        self.paths.run.mkdir(parents=True, exist_ok=True)
        mode = {"security": self.kafka_security, "brokers": str(self.kafka_brokers)}
        (self.paths.run / "kafka-mode.json").write_text(json.dumps(mode) + "\n")
        self.start_kafka()
        self.start_database()
        created = self.create_topics()
        self.say(f"  topics: {len(created)} created" if created else "  topics: all present")
        if self.secured:
            change = self.secure_kafka()
            self.say(
                f"  kafka: credentials of {len(self.kafka_passwords()) - 3} principals set; "
                f"ACLs: {len(change.created)} created, {len(change.deleted)} removed"
            )
        if services:
            if self.outbox_wanted():
                self.start_outbox()
            for name in self.SERVICES:
                self.start_service(name)
        self.say("")
        self.say(self.describe())

    def down(self) -> None:
        for component in (*reversed(self.SERVICES), "outbox", "database", *self.kafka_components()):
            if self.stop(component):
                self.say(f"  {component}: stopped")
        (self.paths.run / "kafka-mode.json").unlink(missing_ok=True)
        self.say("Local stack stopped.")

    def status(self) -> list[tuple[str, str, str]]:
        rows = [(component, f"127.0.0.1:{port}") for _, component, port, _ in self.kafka_nodes()]
        rows.append(("database", self.database_url))
        if self.pid("outbox") is not None:
            rows.append(("outbox", str(self.outbox_file)))
        rows += [(name, f"http://127.0.0.1:{port}") for name, port in self.ports.services.items()]
        table = []
        for component, address in rows:
            pid = self.pid(component)
            state = f"running (pid {pid})" if pid else "stopped"
            table.append((component, state, address))
        return table

    def describe(self) -> str:
        lines = [f"{'component':<10} {'state':<22} address"]
        lines += [f"{c:<10} {s:<22} {a}" for c, s, a in self.status()]
        lines.append(f"logs: {self.paths.logs}")
        return "\n".join(lines)


# --------------------------------------------------------------------- helpers
def _new_local_secrets() -> dict[str, str]:
    api_keys = {name: secrets.token_urlsafe(24) for name in LOCAL_API_CLIENTS}
    signing = Ed25519PrivateKey.generate()
    raw = serialization.Encoding.Raw
    private = signing.private_bytes(
        raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = signing.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
    oversight = {role: secrets.token_urlsafe(24) for role in LOCAL_OVERSIGHT_ROLES}
    return {
        "PHANANH_TRACKING_SECRET": secrets.token_urlsafe(32),
        "PHANANH_CONTACT_KEYS": json.dumps([new_contact_key()]),
        "PHANANH_PSEUDONYM_KEY": secrets.token_urlsafe(32),
        "PHANANH_API_KEYS": json.dumps(api_keys),
        "PHANANH_ZALO__APP_ID": "local-zalo-app",
        "PHANANH_ZALO__OA_SECRET": secrets.token_urlsafe(24),
        "PHANANH_FACEBOOK__APP_SECRET": secrets.token_urlsafe(24),
        "PHANANH_FACEBOOK__VERIFY_TOKEN": secrets.token_urlsafe(16),
        "PHANANH_AUDIT_SIGNING_KEY": base64.b64encode(private).decode(),
        "PHANANH_AUDIT_PUBLIC_KEYS": json.dumps([base64.b64encode(public).decode()]),
        "PHANANH_OVERSIGHT_KEYS": json.dumps(oversight),
    }


def _start_time(pid: int) -> str:
    """When the process started, in clock ticks since boot ('' when unknown)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _kafka_metadata_ok(settings: KafkaSettings) -> bool:
    try:
        await wait_for_kafka(settings, timeout_s=2.0)
    except TimeoutError:
        return False
    return True


async def _brokers_joined(settings: KafkaSettings) -> int:
    """How many brokers the cluster's metadata lists (0 if it does not answer)."""
    admin = AIOKafkaAdminClient(**settings.client_options(), request_timeout_ms=3_000)
    try:
        await admin.start()
        return len((await admin.describe_cluster())["brokers"])
    except (KafkaError, OSError):
        return 0
    finally:
        await admin.close()


def _local_tls_certificates() -> tuple[bytes, bytes]:
    """A CA (PEM) and, signed by it, a key and certificate chain (PEM) for a broker on
    127.0.0.1 / localhost; both valid for ten years."""
    now = datetime.datetime.now(datetime.UTC)
    years = datetime.timedelta(days=3650)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "phananh local CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + years)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + years)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_pem = ca.public_bytes(pem)
    broker_pem = (
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + certificate.public_bytes(pem)
        + ca_pem
    )
    return ca_pem, broker_pem


def _write_private(path: Path, text: str) -> None:
    """Write a file only this user can read, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_suffix(f".{os.getpid()}.tmp")
    draft.write_text(text)
    draft.chmod(0o600)
    os.replace(draft, path)


async def _create_topics(settings: KafkaSettings) -> list[str]:
    created = await ensure_topics(settings, ALL_TOPICS)
    await warm_group_coordinator(settings, ALL_TOPICS[0].name)
    return created


async def _mongo_ping(url: str) -> bool:
    settings = MongoSettings(url=SecretStr(url), server_selection_timeout_ms=1000)
    try:
        await wait_for_mongo(settings, timeout_s=1.0)
    except TimeoutError:
        return False
    return True
