"""The local stack's decisions that need no server: caching, ports, errors."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest
from phananh_cli.main import parser
from phananh_cli.stack import LocalStack, Paths, Ports, StackError, _digest, _start_time

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def project(tmp_path: Path) -> Paths:
    """A copy of deploy/local in a scratch project, with its own data directory."""
    shutil.copytree(ROOT / "deploy" / "local", tmp_path / "deploy" / "local",
                    ignore=shutil.ignore_patterns(".cache"))  # fmt: skip
    return Paths(root=tmp_path, data=tmp_path / "data")


def quiet(paths: Paths, ports: Ports | None = None) -> LocalStack:
    return LocalStack(paths, ports or Ports(), say=lambda _: None)


def test_kafka_jars_fetched_once_are_reused_without_maven(
    project: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    pom = project.local / "kafka" / "pom.xml"
    cached = project.cache / "kafka" / _digest(pom)
    cached.mkdir(parents=True)
    (cached / ".complete").write_text("4.4.0")
    monkeypatch.setenv("PATH", "/nonexistent")

    assert quiet(project).kafka_classpath() == cached


def test_a_changed_pom_fetches_again_and_says_what_is_missing(
    project: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    pom = project.local / "kafka" / "pom.xml"
    stale = project.cache / "kafka" / _digest(pom)
    stale.mkdir(parents=True)
    (stale / ".complete").write_text("old")
    pom.write_text(pom.read_text().replace("<version>1</version>", "<version>2</version>"))
    monkeypatch.setenv("PATH", "/nonexistent")

    with pytest.raises(StackError, match=r"mvn not found on PATH.*Install Maven"):
        quiet(project).kafka_classpath()


def test_missing_go_is_explained_with_the_alternative(
    project: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(StackError, match=r"go not found on PATH.*mongod on PATH"):
        quiet(project).ferretdb_binary()


def test_a_taken_port_is_named_with_the_variable_that_moves_it(project: Paths) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stack = quiet(project, Ports(services={"intake": port}))
        with pytest.raises(StackError, match=f"port {port}.*PHANANH_LOCAL_INTAKE_PORT"):
            stack.start_service("intake")


def test_ports_move_with_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHANANH_LOCAL_KAFKA_PORT", "19092")
    monkeypatch.setenv("PHANANH_LOCAL_AUDIT_PORT", "18084")
    monkeypatch.delenv("PHANANH_LOCAL_INTAKE_PORT", raising=False)
    ports = Ports.from_env()
    assert ports.kafka == 19092
    assert ports.services["audit"] == 18084
    assert ports.services["intake"] == 8081


def test_status_of_a_stack_that_never_ran_is_all_stopped(project: Paths) -> None:
    table = quiet(project).status()
    assert [component for component, _, _ in table] == [
        "kafka", "database", "intake", "routing", "notify", "audit",
    ]  # fmt: skip
    assert {state for _, state, _ in table} == {"stopped"}


def test_a_stale_pid_file_is_not_taken_for_a_running_process(project: Paths) -> None:
    project.run.mkdir(parents=True)
    project.pid_file("kafka").write_text("999999999\n")
    assert quiet(project).pid("kafka") is None
    assert not project.pid_file("kafka").exists()


def test_the_kafka_config_points_at_the_chosen_ports_and_data_directory(project: Paths) -> None:
    stack = quiet(project, Ports(kafka=29092, kafka_controller=29093))
    config = stack._kafka_config().read_text()
    assert "listeners=PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093" in config
    assert f"log.dirs={project.data / 'kafka' / 'logs'}" in config
    assert "auto.create.topics.enable=false" in config


def test_cli_offers_the_operator_commands() -> None:
    commands = parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"up", "down", "status", "env", "topics"} <= set(commands)


def test_a_pid_file_naming_a_reused_pid_is_not_taken_for_our_process(project: Paths) -> None:
    project.run.mkdir(parents=True)
    # This test's own pid is alive, but it did not start at tick 1.
    project.pid_file("kafka").write_text(f"{os.getpid()} 1\n")
    assert quiet(project).pid("kafka") is None
    project.pid_file("kafka").write_text(f"{os.getpid()} {_start_time(os.getpid())}\n")
    assert quiet(project).pid("kafka") == os.getpid()


def test_only_database_files_without_any_table_count_as_empty(tmp_path: Path) -> None:
    """FerretDB will not start next to an empty file it left behind; real data is kept."""
    import sqlite3

    from phananh_cli.stack import _empty_sqlite_files

    with sqlite3.connect(tmp_path / "pakn.sqlite") as db:
        db.execute("CREATE TABLE _ferretdb_collections (name TEXT)")
    with sqlite3.connect(tmp_path / "test_left_behind.sqlite") as db:
        db.execute("PRAGMA user_version = 0")
    (tmp_path / "not-a-database.sqlite").write_bytes(b"this is no SQLite file at all")

    assert [path.name for path in _empty_sqlite_files(tmp_path)] == ["test_left_behind.sqlite"]
    assert _empty_sqlite_files(tmp_path / "absent") == []


def test_later_commands_reach_the_stack_the_way_up_started_it(
    project: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`up` with PHANANH_LOCAL_KAFKA_SECURITY=sasl_ssl in one terminal; `phananh watch` or
    `env` in another, without the variable, still sign in over TLS."""
    monkeypatch.delenv("PHANANH_LOCAL_KAFKA_SECURITY", raising=False)
    monkeypatch.delenv("PHANANH_LOCAL_KAFKA_BROKERS", raising=False)
    assert LocalStack(project).kafka_security == "none"
    project.run.mkdir(parents=True)
    (project.run / "kafka-mode.json").write_text('{"security": "sasl_ssl", "brokers": "1"}')
    later = LocalStack(project)
    assert later.secured and later.tls
    env = later.kafka_env("operator")
    assert env["PHANANH_KAFKA__SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["PHANANH_KAFKA__USERNAME"] == "operator"
    assert env["PHANANH_KAFKA__SSL_CAFILE"].endswith("kafka-tls/ca.pem")
    later.down()  # stops nothing here, and forgets the mode
    assert LocalStack(project).kafka_security == "none"
