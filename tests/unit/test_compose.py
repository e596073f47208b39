"""The Docker stack a user starts with `docker compose up -d --build`, checked statically.

No Docker engine is needed: these tests read docker-compose.yml, the Dockerfile, .env.example,
the Prometheus and Grafana provisioning files and the workspace members' pyproject.toml, and
check that they agree with each other and with the installed code. Each failure here is one a
Docker user would otherwise meet as a container that never starts, never becomes healthy or is
never scraped.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib
import json
import re
import shlex
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"

# The console scripts the four services are started with (declared in their pyproject.toml).
SERVICE_COMMANDS = {
    "intake": ["phananh-intake"],
    "routing": ["phananh-routing"],
    "notify": ["phananh-notify"],
    "audit": ["phananh-audit"],
}

DEPENDS_ON_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
PROMETHEUS_DEFAULT_CONFIG = "/etc/prometheus/prometheus.yml"


# --- reading the files --------------------------------------------------------------------


@functools.cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


def services() -> dict[str, dict[str, Any]]:
    found = compose().get("services")
    assert isinstance(found, dict) and found, "docker-compose.yml defines no services"
    return found


def our_images() -> set[str]:
    """Image names that compose builds from this repository's Dockerfile."""
    return {svc["image"] for svc in services().values() if "build" in svc and "image" in svc}


def our_services() -> dict[str, dict[str, Any]]:
    """Services that run this repository's image (built here or reusing the built tag)."""
    images = our_images()
    return {
        name: svc
        for name, svc in services().items()
        if "build" in svc or svc.get("image") in images
    }


def is_one_shot(svc: dict[str, Any]) -> bool:
    return str(svc.get("restart", "no")) == "no"


def long_running_services() -> dict[str, dict[str, Any]]:
    """Our services that stay up (and so serve HTTP), as opposed to one-shot jobs."""
    return {name: svc for name, svc in our_services().items() if not is_one_shot(svc)}


def environment(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        return {pair[0]: pair[1] if len(pair) == 2 else "" for pair in pairs}
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command(svc: dict[str, Any]) -> list[str]:
    cmd = svc.get("command")
    if cmd is None:
        return []
    if isinstance(cmd, str):
        return shlex.split(cmd)
    return [str(word) for word in cmd]


def http_port(name: str) -> str:
    port = environment(services()[name]).get("PHANANH_HTTP__PORT")
    assert port, f"service {name!r} does not set PHANANH_HTTP__PORT"
    return port


def service_by_image(prefix: str) -> tuple[str, dict[str, Any]]:
    matches = [
        (name, svc)
        for name, svc in services().items()
        if str(svc.get("image", "")).startswith(prefix)
    ]
    assert len(matches) == 1, f"expected one service running {prefix}, found {len(matches)}"
    return matches[0]


def bind_mounts(svc: dict[str, Any]) -> list[tuple[Path, PurePosixPath]]:
    """(host path, container path) of each bind mount; named volumes are left out."""
    mounts: list[tuple[Path, PurePosixPath]] = []
    for volume in svc.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type") != "bind":
                continue
            source, target = str(volume["source"]), str(volume["target"])
        else:
            parts = str(volume).split(":")
            if len(parts) < 2 or not parts[0].startswith((".", "/", "~")):
                continue
            source, target = parts[0], parts[1]
        mounts.append(((ROOT / source).resolve(), PurePosixPath(target)))
    return mounts


def host_path(svc_name: str, container_path: PurePosixPath) -> Path:
    """Where on the host (in the repository) a container path of a service comes from."""
    best: tuple[Path, PurePosixPath] | None = None
    for source, target in bind_mounts(services()[svc_name]):
        covers = container_path == target or target in container_path.parents
        if covers and (best is None or len(target.parts) > len(best[1].parts)):
            best = (source, target)
    assert best is not None, f"{container_path} is not bind-mounted into {svc_name!r}"
    source, target = best
    return source.joinpath(*container_path.parts[len(target.parts) :])


def console_scripts() -> dict[str, str]:
    """Console script name -> `module:function`, from every service, client and the CLI."""
    scripts: dict[str, str] = {}
    pyprojects = [
        *sorted(ROOT.glob("services/*/pyproject.toml")),
        *sorted(ROOT.glob("clients/*/pyproject.toml")),
        ROOT / "deploy/cli/pyproject.toml",
    ]
    for pyproject in pyprojects:
        if not pyproject.is_file():
            continue
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        scripts.update(project.get("scripts", {}))
    return scripts


def env_example_keys() -> set[str]:
    keys = set()
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        keys.add(line.removeprefix("export ").split("=", 1)[0].strip())
    return keys


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, with line continuations joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        line = (pending + stripped).strip()
        pending = ""
        if line:
            keyword, _, args = line.partition(" ")
            instructions.append((keyword.upper(), args.strip()))
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from + 1 :]


def env_assignments(args: str) -> dict[str, str]:
    """The variables one Dockerfile ENV instruction sets (both `K=V ...` and `K V` forms)."""
    words = shlex.split(args)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


# --- compose --------------------------------------------------------------------------------


def test_compose_file_defines_services_with_pinned_images() -> None:
    for name, svc in services().items():
        assert "image" in svc or "build" in svc, f"service {name!r} has neither image nor build"
        if "build" in svc:
            continue
        image = str(svc["image"])
        if image in our_images():
            continue
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        assert tag and tag != "latest", f"service {name!r} does not pin its image: {image}"


def test_named_volumes_are_declared_and_bind_mount_sources_exist() -> None:
    declared = set(compose().get("volumes") or {})
    for name, svc in services().items():
        for volume in svc.get("volumes") or []:
            if isinstance(volume, dict):
                source = str(volume.get("source", ""))
                is_named = volume.get("type") == "volume"
            else:
                source = str(volume).split(":")[0]
                is_named = ":" in str(volume) and not source.startswith((".", "/", "~"))
            if is_named:
                assert source in declared, f"{name!r} uses undeclared volume {source!r}"
        # A missing bind source is silently created by Docker as an empty directory.
        for host, target in bind_mounts(svc):
            assert host.exists(), f"{name!r} mounts {host} at {target}, which does not exist"


def test_every_command_of_our_image_is_a_declared_console_script() -> None:
    scripts = console_scripts()
    assert our_services(), "no service runs the image built from this repository"
    for name, svc in our_services().items():
        cmd = command(svc)
        assert cmd, f"service {name!r} has no command (the image has no per-service command)"
        assert cmd[0] in scripts, (
            f"service {name!r} runs {cmd[0]!r}, which no [project.scripts] of "
            f"services/*/pyproject.toml, clients/*/pyproject.toml or deploy/cli/pyproject.toml "
            "declares"
        )


def test_every_console_script_run_by_compose_is_importable_and_callable() -> None:
    scripts = console_scripts()
    for name, svc in our_services().items():
        script = command(svc)[0]
        assert script in scripts, f"service {name!r} runs undeclared script {script!r}"
        module_name, _, attribute = scripts[script].partition(":")
        target: Any = importlib.import_module(module_name.strip())
        for part in attribute.strip().split("."):
            target = getattr(target, part)
        assert callable(target), f"{scripts[script]} (run by {name!r}) is not callable"


def test_the_four_services_run_their_console_scripts() -> None:
    for name, expected in SERVICE_COMMANDS.items():
        assert name in services(), f"docker-compose.yml has no {name!r} service"
        assert name in long_running_services(), f"{name!r} must be built here and keep running"
        assert command(services()[name]) == expected


def depends_on(svc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A service's dependencies as a mapping (compose also accepts a list of names)."""
    found = svc.get("depends_on") or {}
    if isinstance(found, list):
        return {target: {"condition": "service_started"} for target in found}
    return {target: spec or {} for target, spec in found.items()}


def assert_dependencies_hold(all_services: dict[str, dict[str, Any]]) -> None:
    for name, svc in all_services.items():
        for target, spec in depends_on(svc).items():
            assert target in all_services, f"{name!r} depends on unknown service {target!r}"
            condition = spec.get("condition", "service_started")
            assert condition in DEPENDS_ON_CONDITIONS, f"{name!r}: unknown condition {condition}"
            dependency = all_services[target]
            if condition == "service_healthy":
                healthcheck = dependency.get("healthcheck") or {}
                assert healthcheck.get("test") and not healthcheck.get("disable"), (
                    f"{name!r} waits for {target!r} to be healthy, but it has no healthcheck"
                )
            if condition == "service_completed_successfully":
                assert is_one_shot(dependency), (
                    f"{name!r} waits for {target!r} to complete, but it is restarted "
                    f"(restart: {dependency.get('restart')!r}) instead of running once"
                )


def test_depends_on_targets_exist_and_conditions_hold() -> None:
    assert_dependencies_hold(services())


def test_our_long_running_services_have_readiness_healthchecks() -> None:
    for name, svc in long_running_services().items():
        healthcheck = svc.get("healthcheck") or {}
        test = healthcheck.get("test")
        assert test and not healthcheck.get("disable"), f"{name!r} has no healthcheck"
        text = test if isinstance(test, str) else " ".join(map(str, test))
        assert f":{http_port(name)}/readyz" in text, (
            f"{name!r} healthcheck does not probe /readyz on PHANANH_HTTP__PORT"
        )


def test_published_ports_reach_the_port_the_services_listen_on() -> None:
    for name, svc in long_running_services().items():
        port = http_port(name)
        for published in svc.get("ports") or []:
            if isinstance(published, dict):
                container_port = str(published["target"])
            else:
                container_port = str(published).rsplit(":", 1)[-1].split("/")[0]
            assert container_port == port, (
                f"{name!r} publishes container port {container_port}, but listens on {port}"
            )


def test_required_variables_are_documented_in_env_example() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    required = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*):?\?", text))
    assert required, "no ${VAR:?...} in docker-compose.yml: secrets would have defaults"
    missing = required - env_example_keys()
    assert not missing, f".env.example lacks required variables: {sorted(missing)}"


def test_secrets_are_not_hard_coded() -> None:
    for name, svc in services().items():
        for key, value in environment(svc).items():
            if re.search(r"PASSWORD|SECRET|TOKEN", key):
                assert "${" in value, f"{name!r} hard-codes {key}"
            credentials = re.search(r"://([^/@\s]*):([^/@\s]*)@", value)
            if credentials:
                assert "${" in credentials.group(2), f"{name!r} hard-codes a password in {key}"


def test_kafka_bootstrap_points_at_the_internal_advertised_listener() -> None:
    kafka_name, kafka = service_by_image("apache/kafka")
    kafka_env = environment(kafka)
    internal = kafka_env.get("KAFKA_INTER_BROKER_LISTENER_NAME", "PLAINTEXT")
    advertised = dict(
        listener.strip().split("://", 1)
        for listener in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    )
    address = advertised[internal]
    assert address.rsplit(":", 1)[0] == kafka_name, (
        f"internal listener {address} is not the compose name of the broker ({kafka_name})"
    )
    assert kafka_env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE") == "false"
    for name, svc in services().items():
        bootstrap = environment(svc).get("PHANANH_KAFKA__BOOTSTRAP_SERVERS")
        if name in our_services():
            assert bootstrap, f"{name!r} does not set PHANANH_KAFKA__BOOTSTRAP_SERVERS"
        if bootstrap is not None:
            assert bootstrap == address, f"{name!r} bootstraps from {bootstrap}, not {address}"


# --- Prometheus and Grafana -----------------------------------------------------------------


def prometheus_config_path() -> tuple[str, PurePosixPath, Path]:
    name, svc = service_by_image("prom/prometheus")
    container_path = PROMETHEUS_DEFAULT_CONFIG
    for word in command(svc):
        if word.startswith("--config.file="):
            container_path = word.split("=", 1)[1]
    return name, PurePosixPath(container_path), host_path(name, PurePosixPath(container_path))


def prometheus_config() -> dict[str, Any]:
    _, _, path = prometheus_config_path()
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(config, dict)
    return config


def test_prometheus_scrapes_every_long_running_service_on_its_http_port() -> None:
    jobs: dict[str, tuple[str, set[str]]] = {}
    for job in prometheus_config().get("scrape_configs") or []:
        targets = {t for static in job.get("static_configs") or [] for t in static["targets"]}
        for dns in job.get("dns_sd_configs") or []:
            targets |= {f"{host}:{dns.get('port')}" for host in dns.get("names") or []}
        jobs[job["job_name"]] = (job.get("metrics_path", "/metrics"), targets)
    for name in long_running_services():
        assert name in jobs, f"Prometheus has no job named {name!r}"
        metrics_path, targets = jobs[name]
        assert metrics_path == "/metrics", f"job {name!r} scrapes {metrics_path}, not /metrics"
        assert f"{name}:{http_port(name)}" in targets, (
            f"job {name!r} does not scrape {name}:{http_port(name)} (targets: {sorted(targets)})"
        )


def test_prometheus_rule_files_match_mounted_rules() -> None:
    name, config_path, _ = prometheus_config_path()
    rule_files = prometheus_config().get("rule_files") or []
    assert rule_files, "Prometheus loads no rule files"
    for pattern in rule_files:
        container_pattern = config_path.parent / pattern  # relative paths: from the config
        host_dir = host_path(name, container_pattern.parent)
        assert host_dir == RULES_DIR.resolve(), f"{pattern} is not in deploy/prometheus/rules/"
        assert list(host_dir.glob(container_pattern.name)), f"{pattern} matches no rules file"


def test_prometheus_rules_files_define_alerts() -> None:
    files = sorted([*RULES_DIR.glob("*.yml"), *RULES_DIR.glob("*.yaml")])
    assert files, "deploy/prometheus/rules/ holds no rules"
    alerts = []
    for path in files:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        groups = document.get("groups") if isinstance(document, dict) else None
        assert groups, f"{path.name} has no groups"
        for group in groups:
            assert group.get("name") and group.get("rules"), f"{path.name}: empty group"
            for rule in group["rules"]:
                assert rule.get("expr"), f"{path.name}: rule without expr: {rule}"
                assert rule.get("alert") or rule.get("record"), f"{path.name}: {rule}"
                if rule.get("alert"):
                    alerts.append(rule["alert"])
                    assert rule.get("labels", {}).get("severity"), f"{rule['alert']}: severity"
                    assert rule.get("annotations", {}).get("summary"), f"{rule['alert']}: summary"
    assert "ServiceDown" in alerts


def test_grafana_provisions_prometheus_and_the_dashboards_directory() -> None:
    prometheus_name, _ = service_by_image("prom/prometheus")
    grafana_name, _ = service_by_image("grafana/grafana")
    provisioning = host_path(grafana_name, PurePosixPath("/etc/grafana/provisioning"))
    datasources = [
        source
        for path in sorted((provisioning / "datasources").glob("*.y*ml"))
        for source in yaml.safe_load(path.read_text(encoding="utf-8")).get("datasources", [])
    ]
    assert any(
        source.get("type") == "prometheus"
        and source.get("uid") == "prometheus"
        and source.get("url") == f"http://{prometheus_name}:9090"
        for source in datasources
    ), f"no Prometheus data source with uid 'prometheus' at {prometheus_name}:9090"
    providers = [
        provider
        for path in sorted((provisioning / "dashboards").glob("*.y*ml"))
        for provider in yaml.safe_load(path.read_text(encoding="utf-8")).get("providers", [])
    ]
    assert providers, "Grafana has no dashboard provider"
    for provider in providers:
        container_dir = PurePosixPath(provider["options"]["path"])
        assert host_path(grafana_name, container_dir).is_dir()


# --- Dockerfile -----------------------------------------------------------------------------


def test_dockerfile_final_stage_puts_the_venv_on_path_and_runs_as_non_root() -> None:
    stage = final_stage()
    path = ""
    for keyword, args in stage:
        if keyword == "ENV":
            path = env_assignments(args).get("PATH", path)
    venv_bin = path.split(":")[0]
    assert venv_bin.endswith("/.venv/bin"), f"final stage PATH does not start with a venv: {path}"
    venv = venv_bin.removesuffix("/bin")
    assert any(
        keyword == "COPY" and "--from=" in args and shlex.split(args)[-1].rstrip("/") == venv
        for keyword, args in stage
    ), f"the final stage does not copy the built virtual environment to {venv}"

    users = [args for keyword, args in stage if keyword == "USER"]
    assert users, "the final stage runs as root (no USER)"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, f"the final stage runs as {users[-1]}"
    if not user.isdigit():
        assert any(
            keyword == "RUN" and re.search(rf"(useradd|adduser)\b.*\b{re.escape(user)}\b", args)
            for keyword, args in stage
        ), f"USER {user} is never created in the final stage"
    for name, svc in our_services().items():
        assert str(svc.get("user", user)).split(":")[0] not in {"root", "0"}, f"{name!r} as root"

    exposed = {word.split("/")[0] for k, args in stage if k == "EXPOSE" for word in args.split()}
    for name in long_running_services():
        assert http_port(name) in exposed, f"the image does not EXPOSE {http_port(name)}"


def test_dockerfile_build_context_holds_what_it_copies() -> None:
    sources: set[str] = set()
    for keyword, args in dockerfile_instructions():
        words = shlex.split(args)
        if keyword in {"COPY", "ADD"} and not any(w.startswith("--from=") for w in words):
            sources |= {w for w in words[:-1] if not w.startswith("--")}
        if keyword == "RUN":
            for mount in re.findall(r"--mount=(\S+)", args):
                options = dict(o.split("=", 1) for o in mount.split(",") if "=" in o)
                if options.get("type") == "bind" and "from" not in options:
                    sources.add(options["source"])
    assert {"pyproject.toml", "uv.lock"} <= sources
    ignored = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith(("#", "!"))
    ]
    for source in sorted(sources):
        relative = source.rstrip("/")
        assert (ROOT / relative).exists(), f"the Dockerfile copies {source}, which is missing"
        for pattern in ignored:
            assert not fnmatch.fnmatch(relative, pattern.rstrip("/")), (
                f".dockerignore pattern {pattern!r} excludes {source} from the build context"
            )


# --- the secured Kafka overlay (deploy/compose/kafka-sasl.yml) -------------------------------

SASL_OVERLAY = ROOT / "deploy" / "compose" / "kafka-sasl.yml"
LOCAL_SASL_PROPERTIES = ROOT / "deploy" / "local" / "kafka" / "server-sasl.properties"


def overlay() -> dict[str, Any]:
    data = yaml.safe_load(SASL_OVERLAY.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def merged_environment(name: str) -> dict[str, str]:
    """A service's environment with the overlay laid over the main file, as compose does."""
    base = environment(services()[name])
    return {**base, **{k: str(v) for k, v in overlay()["services"][name]["environment"].items()}}


def kafka_property(variable: str) -> str:
    """The broker setting the official image makes of a KAFKA_ variable ('_' is '.',
    '__' is '-', '___' is '_')."""
    name = variable.removeprefix("KAFKA_").lower()
    return name.replace("___", "\0").replace("__", "-").replace("_", ".").replace("\0", "_")


def test_the_secured_overlay_names_only_services_of_the_main_file() -> None:
    assert set(overlay()["services"]) <= set(services())


def test_each_service_signs_in_as_its_own_principal_in_the_secured_overlay() -> None:
    from phananh_contracts.access import SERVICE_ACCESS

    for access in SERVICE_ACCESS:
        env = merged_environment(access.service)
        assert env["PHANANH_KAFKA__USERNAME"] == access.principal
        assert env["PHANANH_KAFKA__SECURITY_PROTOCOL"].startswith("SASL_")
        assert env["PHANANH_KAFKA__SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert env["PHANANH_KAFKA__PASSWORD"].startswith("${")
    passwords = {merged_environment(a.service)["PHANANH_KAFKA__PASSWORD"] for a in SERVICE_ACCESS}
    assert len(passwords) == len(SERVICE_ACCESS), "two services share a password"


def test_the_secured_overlay_enforces_acls_as_the_local_secured_broker_does() -> None:
    local = dict(
        line.split("=", 1)
        for line in LOCAL_SASL_PROPERTIES.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    kafka = {**environment(services()["kafka"]), **overlay()["services"]["kafka"]["environment"]}
    properties = {kafka_property(k): str(v) for k, v in kafka.items() if k.startswith("KAFKA_")}
    for setting in ("authorizer.class.name", "allow.everyone.if.no.acl.found", "super.users"):
        assert properties[setting] == local[setting], setting
    protocols = dict(
        pair.split(":") for pair in properties["listener.security.protocol.map"].split(",")
    )
    assert set(protocols.values()) == {"SASL_PLAINTEXT"}, "a listener admits anyone"
    for listener in protocols:
        if listener != "CONTROLLER":
            assert f"listener.name.{listener.lower()}.sasl.enabled.mechanisms" in properties


def test_the_secured_overlay_sets_every_principals_password_and_the_acls() -> None:
    job = overlay()["services"]["topics"]
    script = "\n".join(job["command"])
    assert "phananh kafka acls" in script and "phananh topics create" in script
    assert "--operator" in script and "for service in intake routing notify audit" in script
    text = SASL_OVERLAY.read_text(encoding="utf-8")
    required = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*):?\?", text))
    assert {"KAFKA_ADMIN_PASSWORD", "KAFKA_BROKER_PASSWORD", "KAFKA_OPERATOR_PASSWORD"} <= required
    missing = required - env_example_keys()
    assert not missing, f".env.example lacks the overlay's variables: {sorted(missing)}"


# --- the replica-set overlay (deploy/compose/mongo-replica-set.yml) --------------------------

REPLICA_SET_OVERLAY = ROOT / "deploy" / "compose" / "mongo-replica-set.yml"
MONGO_INIT_SCRIPT = ROOT / "deploy" / "compose" / "mongo-init.js"
MONGO_ACCESS = ROOT / "deploy" / "compose" / "mongo-access.json"
AUDIT_DOC = ROOT / "docs" / "audit.md"
REQUIRED_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*):?\?")
# What audit's trail (its records, chains and signed checkpoints) may undergo, by any user.
TRAIL_COLLECTIONS = {"audit_trail", "audit_chains", "audit_checkpoints"}
TRAIL_ACTIONS = {"find", "insert", "createIndex"}  # createIndex changes no document
# mongodb://user:${PASSWORD:?...}@host:port,host:port/?options
SERVICE_URL = re.compile(
    r"^mongodb://(?P<user>[^:@/]+):(?P<password>\$\{[^}]+\})@(?P<hosts>[^/]+)/\?(?P<query>.+)$"
)


@functools.cache
def replica_set_overlay() -> dict[str, Any]:
    data = yaml.safe_load(REPLICA_SET_OVERLAY.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and data.get("services"), "the overlay defines no services"
    return data


@functools.cache
def mongo_access() -> dict[str, Any]:
    data = json.loads(MONGO_ACCESS.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def volume_target(volume: Any) -> str:
    return str(volume["target"]) if isinstance(volume, dict) else str(volume).split(":")[1]


def merged_service(base: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    """A service as compose merges an overlay's definition over the main file's: the
    environment and depends_on key by key, volumes by their path in the container, any
    other setting replaced."""
    merged = {**base, **layer}
    merged["environment"] = {**environment(base), **environment(layer)}
    merged["depends_on"] = {**depends_on(base), **depends_on(layer)}
    volumes = {
        volume_target(v): v for v in [*(base.get("volumes") or []), *(layer.get("volumes") or [])]
    }
    merged["volumes"] = list(volumes.values())
    return merged


def replica_set_services() -> dict[str, dict[str, Any]]:
    """Every service of `docker compose -f docker-compose.yml -f mongo-replica-set.yml`."""
    layer = replica_set_overlay()["services"]
    names = [*services(), *(name for name in layer if name not in services())]
    return {name: merged_service(services().get(name, {}), layer.get(name, {})) for name in names}


def option(words: list[str], flag: str) -> str | None:
    """The value of a command-line option (`--flag value` or `--flag=value`)."""
    for index, word in enumerate(words):
        if word == flag and index + 1 < len(words):
            return words[index + 1]
        if word.startswith(f"{flag}="):
            return word.split("=", 1)[1]
    return None


def replica_set_members() -> dict[str, dict[str, Any]]:
    """The services running a mongod."""
    return {
        name: svc for name, svc in replica_set_services().items() if command(svc)[:1] == ["mongod"]
    }


def named_mounts(svc: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """Container path -> (named volume, read-only) of a service's named-volume mounts."""
    mounts: dict[str, tuple[str, bool]] = {}
    for volume in svc.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type") == "volume":
                mounts[str(volume["target"])] = (
                    str(volume["source"]),
                    bool(volume.get("read_only")),
                )
            continue
        parts = str(volume).split(":")
        if len(parts) >= 2 and not parts[0].startswith((".", "/", "~")):
            mounts[parts[1]] = (parts[0], len(parts) > 2 and "ro" in parts[2].split(","))
    return mounts


def read_only_bind_source(svc: dict[str, Any], container_path: str) -> Path:
    """The repository file bind-mounted, read-only, at a container path of a service."""
    for volume in svc.get("volumes") or []:
        parts = str(volume).split(":")
        if len(parts) >= 2 and parts[1] == container_path:
            assert len(parts) > 2 and "ro" in parts[2].split(","), f"{volume} is writable"
            return (ROOT / parts[0]).resolve()
    raise AssertionError(f"nothing is bind-mounted at {container_path}")


def own_database(service: str) -> str:
    """The database a service uses while PHANANH_MONGODB__DATABASE is unset: `pakn_` and
    the name its settings give it (phananh_platform.settings.ServiceSettings)."""
    kind = importlib.import_module(f"{service}.settings").Settings
    return f"pakn_{kind.service}"


def access_user(name: str) -> dict[str, Any]:
    users = [user for user in mongo_access()["users"] if user["user"] == name]
    assert len(users) == 1, f"the access file defines {len(users)} users named {name!r}"
    return users[0]


def role_privileges(role: dict[str, Any]) -> dict[str, set[str]]:
    """Collection -> the actions a role grants on it (its database's collections only)."""
    granted: dict[str, set[str]] = {}
    for privilege in role["privileges"]:
        resource = privilege["resource"]
        assert resource.get("db") == role["db"], f"{role['role']} reaches beyond {role['db']}"
        assert resource.get("collection"), f"{role['role']} is granted a whole database"
        granted.setdefault(resource["collection"], set()).update(privilege["actions"])
    return granted


def access_roles() -> dict[str, dict[str, Any]]:
    return {role["role"]: role for role in mongo_access()["roles"]}


def test_the_replica_set_overlay_names_only_services_of_the_main_file_or_its_own() -> None:
    declared = set(compose().get("volumes") or {}) | set(replica_set_overlay().get("volumes") or {})
    main_mongo_image = services()["mongo"]["image"]
    for name, layer in replica_set_overlay()["services"].items():
        svc = replica_set_services()[name]
        if name not in services():
            # A new service inherits nothing: it names its image (the main file's MongoDB).
            assert layer.get("image") == main_mongo_image, (
                f"{name!r} does not run {main_mongo_image}"
            )
        for volume, _ in named_mounts(svc).values():
            assert volume in declared, f"{name!r} uses undeclared volume {volume!r}"
        for host, target in bind_mounts(svc):
            assert host.exists(), f"{name!r} mounts {host} at {target}, which does not exist"


def test_every_member_runs_in_the_replica_set_with_the_shared_keyfile() -> None:
    members = replica_set_members()
    assert "mongo" in members, "the main file's mongo, which the services wait for, is no member"
    assert len(members) >= 3 and len(members) % 2 == 1, (
        f"{sorted(members)}: no majority survives a loss"
    )
    keyfiles = set()
    for name, svc in members.items():
        words = command(svc)
        assert option(words, "--replSet") == "rs0", f"{name!r} is not started in replica set rs0"
        keyfile = option(words, "--keyFile")
        assert keyfile, f"{name!r} has no --keyFile: members would not authenticate each other"
        directory = str(PurePosixPath(keyfile).parent)
        assert directory in named_mounts(svc), f"{name!r} does not mount its keyfile's volume"
        volume, read_only = named_mounts(svc)[directory]
        assert read_only, f"{name!r} could change the keyfile"
        keyfiles.add((keyfile, volume))
        assert svc["image"] == services()["mongo"]["image"], f"{name!r} runs another MongoDB"
    assert len(keyfiles) == 1, f"the members do not share one keyfile: {sorted(keyfiles)}"
    ((keyfile, volume),) = keyfiles

    # The one-shot job making it: writes that volume, gives it to mongod's uid with mode 400.
    writers = {
        name: svc
        for name, svc in replica_set_services().items()
        if any(v == volume and not ro for v, ro in named_mounts(svc).values())
    }
    assert len(writers) == 1, f"expected one job writing {volume!r}, found {sorted(writers)}"
    ((writer_name, writer),) = writers.items()
    assert is_one_shot(writer), f"{writer_name!r} is restarted instead of running once"
    script = " ".join(command(writer))
    assert PurePosixPath(keyfile).name in script
    assert re.search(r"chmod 400\b", script), "the keyfile is not made mode 400"
    assert re.search(r"chown (999|mongodb)(:(999|mongodb))?\b", script), "mongod cannot read it"
    for name, svc in members.items():
        assert depends_on(svc).get(writer_name, {}).get("condition") == (
            "service_completed_successfully"
        ), f"{name!r} may start before its keyfile exists"


def test_only_the_member_the_set_is_initiated_from_creates_the_root_account() -> None:
    with_root = [
        name
        for name, svc in replica_set_members().items()
        if "MONGO_INITDB_ROOT_USERNAME" in environment(svc)
    ]
    # A member holding data (a root account) cannot be added to a new set by another.
    assert with_root == ["mongo"], f"members creating a root account: {with_root}"
    first = environment(replica_set_services()["mongo-init"])["MONGO_REPLICA_SET_MEMBERS"]
    assert first.split(",")[0] == "mongo:27017"


def test_mongo_init_initiates_the_set_of_the_members_then_applies_the_access_file() -> None:
    init = replica_set_services()["mongo-init"]
    env = environment(init)
    assert is_one_shot(init), "mongo-init must run once per `up`, not be restarted"
    words = command(init)
    assert words[0] == "mongosh" and "--nodb" in words, words
    assert read_only_bind_source(init, words[-1]) == MONGO_INIT_SCRIPT.resolve()
    assert read_only_bind_source(init, env["MONGO_ACCESS_FILE"]) == MONGO_ACCESS.resolve()

    members = replica_set_members()
    assert env["MONGO_REPLICA_SET"] == "rs0"
    hosts = env["MONGO_REPLICA_SET_MEMBERS"].split(",")
    assert sorted(hosts) == sorted(f"{name}:27017" for name in members)
    for name in members:
        assert depends_on(init).get(name, {}).get("condition") == "service_healthy", (
            f"mongo-init may run before {name!r} answers"
        )
    # Every variable the script reads is given to it.
    script = MONGO_INIT_SCRIPT.read_text(encoding="utf-8")
    read = set(re.findall(r"(?:setting|password)\(\"([A-Z0-9_]+)\"\)", script))
    read |= {user["passwordEnv"] for user in mongo_access()["users"]}
    assert read <= set(env), f"mongo-init is not given {sorted(read - set(env))}"


def test_each_service_connects_to_the_replica_set_as_its_own_user() -> None:
    members = sorted(f"{name}:27017" for name in replica_set_members())
    seen_users: set[str] = set()
    for name in SERVICE_COMMANDS:
        svc = replica_set_services()[name]
        env = environment(svc)
        url = SERVICE_URL.match(env["PHANANH_MONGODB__URL"])
        assert url, f"{name!r}: PHANANH_MONGODB__URL has no user and password from .env"
        user = access_user(url["user"])
        database = own_database(name)
        assert "PHANANH_MONGODB__DATABASE" not in env, f"{name!r} uses another database"
        assert user["db"] == database, (
            f"{name!r} signs in as {user['user']}, a user of {user['db']}"
        )
        query = {key: values[-1] for key, values in parse_qs(url["query"]).items()}
        assert query.get("authSource") == database, f"{name!r} looks for its user elsewhere"
        assert query.get("replicaSet") == "rs0", f"{name!r} does not connect to the set"
        assert sorted(url["hosts"].split(",")) == members, f"{name!r} knows other members"
        assert query.get("w") == "majority"
        assert env.get("PHANANH_MONGODB__WRITE_CONCERN", "majority") == "majority"
        assert REQUIRED_VARIABLE.findall(url["password"]) == [user["passwordEnv"]]
        assert depends_on(svc).get("mongo-init", {}).get("condition") == (
            "service_completed_successfully"
        ), f"{name!r} may start before its user exists"
        seen_users.add(user["user"])
    assert len(seen_users) == len(SERVICE_COMMANDS), "two services share a database user"


def test_every_database_user_may_use_its_own_database_only() -> None:
    roles = access_roles()
    for user in mongo_access()["users"]:
        for granted in user["roles"]:
            assert granted["db"] == user["db"], f"{user['user']} has a role in {granted['db']}"
            assert granted["role"] in roles or granted["role"] == "readWrite", (
                f"{user['user']} has the built-in role {granted['role']}"
            )
    for name in set(SERVICE_COMMANDS) - {"audit"}:
        user = access_user(f"phananh-{name}")
        assert user["roles"] == [{"role": "readWrite", "db": own_database(name)}], user


def test_the_audit_user_may_only_insert_and_find_on_the_trail() -> None:
    roles = access_roles()
    (granted,) = access_user("phananh-audit")["roles"]
    audit = roles[granted["role"]]
    assert audit["roles"] == [], "the audit role inherits other roles"
    privileges = role_privileges(audit)
    for collection in TRAIL_COLLECTIONS:
        assert {"find", "insert"} <= privileges[collection] <= TRAIL_ACTIONS, (
            f"the audit service may {sorted(privileges[collection])} on {collection}"
        )
    # Nobody the access file makes may update, delete or drop the trail.
    for role in roles.values():
        for collection, actions in role_privileges(role).items():
            if collection in TRAIL_COLLECTIONS:
                assert actions <= TRAIL_ACTIONS, (
                    f"{role['role']} may {sorted(actions)} {collection}"
                )
    (verify,) = access_user("phananh-audit-verify")["roles"]
    assert set().union(*role_privileges(roles[verify["role"]]).values()) == {"find"}


def documented_roles() -> tuple[dict[str, dict[str, set[str]]], dict[str, str]]:
    """The roles (collection -> actions) and users (-> role) docs/audit.md section 5 makes."""
    text = AUDIT_DOC.read_text(encoding="utf-8")
    section = text.split("## 5. ", 1)[1].split("\n### 5.1", 1)[0]
    roles: dict[str, dict[str, set[str]]] = {}
    for chunk in section.split("db.createRole(")[1:]:
        name = re.search(r'role:\s*"(\w+)"', chunk)
        assert name, chunk
        privileges = roles.setdefault(name[1], {})
        for collection, actions in re.findall(
            r'collection:\s*"(\w+)"\},\s*actions:\s*\[([^\]]*)\]', chunk.split("db.create")[0]
        ):
            privileges.setdefault(collection, set()).update(re.findall(r'"(\w+)"', actions))
    users = dict(re.findall(r'db\.createUser\(\{user:\s*"([\w-]+)".*?\{role:\s*"(\w+)"', section))
    return roles, users


def test_the_database_roles_are_those_docs_audit_md_gives() -> None:
    roles, users = documented_roles()
    assert "deploy/compose/mongo-replica-set.yml" in AUDIT_DOC.read_text(encoding="utf-8")
    assert roles == {name: role_privileges(role) for name, role in access_roles().items()}
    audit_users = {
        u["user"]: u["roles"][0]["role"] for u in mongo_access()["users"] if u["db"] == "pakn_audit"
    }
    assert users == audit_users


def test_every_database_password_comes_from_env_and_is_documented() -> None:
    required = set(REQUIRED_VARIABLE.findall(REPLICA_SET_OVERLAY.read_text(encoding="utf-8")))
    passwords = [user["passwordEnv"] for user in mongo_access()["users"]]
    assert len(set(passwords)) == len(passwords), "two database users share a password"
    assert set(passwords) | {"MONGO_ROOT_PASSWORD"} <= required
    missing = required - env_example_keys()
    assert not missing, f".env.example lacks the overlay's variables: {sorted(missing)}"
    for name in replica_set_overlay()["services"]:
        for key, value in environment(replica_set_services()[name]).items():
            if re.search(r"PASSWORD|SECRET|TOKEN", key):
                assert "${" in value, f"{name!r} hard-codes {key}"
            credentials = re.search(r"://([^/@\s]*):([^@\s]*)@", value)
            if credentials:
                assert credentials.group(2).startswith("${"), (
                    f"{name!r} hard-codes a password in {key}"
                )


def test_the_replica_set_overlay_depends_on_conditions_hold() -> None:
    assert_dependencies_hold(replica_set_services())
