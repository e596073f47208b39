"""``phananh``: start, stop and inspect the platform.

phananh up [--infra-only]   start Kafka, the database and the four services
phananh down                stop everything this command started
phananh status              what runs, and where it listens
phananh env                 shell exports pointing clients at the local stack
phananh topics create       create the contract topics on any Kafka cluster
phananh topics list         the contract topics and their partitions
phananh dlq list [SERVICE…]  the dead letters of the services (all by default)
phananh dlq show SERVICE OFFSET       one dead letter in full
phananh dlq replay SERVICE OFFSET…    put dead letters back on their source topics
phananh kafka plan                    the ACLs the access plan gives every principal
phananh kafka acls [--dry-run]        make the cluster's ACLs what the plan says
phananh kafka credentials --agency ID (or --service NAME, --operator)
                                      create or rotate a principal's password; prints
                                      what the agency (or service) needs to connect
phananh forget --code SL-… | --phone … | --email … | --channel-user CH:ID | --pseudonym …
               --reason "…"           erase a citizen's contact everywhere (its keys)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from phananh_contracts import (
    ALL_TOPICS,
    SERVICES,
    ContractViolation,
    agency_inbox_topic,
    agency_updates_topic,
    decode_event,
)
from phananh_contracts.access import (
    ADMIN_PRINCIPAL,
    OPERATOR_PRINCIPAL,
    access_plan,
    agency_group,
    agency_principal,
    service_principal,
)
from phananh_platform.kafka import ensure_topics, wait_for_kafka, warm_group_coordinator
from phananh_platform.settings import KafkaSettings
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from phananh_cli import dlq, forget, kafka_security
from phananh_cli.stack import LocalStack, StackError


def _up(args: argparse.Namespace) -> int:
    stack = LocalStack()
    try:
        stack.up(services=not args.infra_only)
    except StackError as error:
        print(f"phananh up: {error}", file=sys.stderr)
        print("Whatever did start keeps running; `phananh down` stops it.", file=sys.stderr)
        return 1
    return 0


def _down(_: argparse.Namespace) -> int:
    LocalStack().down()
    return 0


def _status(_: argparse.Namespace) -> int:
    stack = LocalStack()
    print(stack.describe())
    return 0 if all(state.startswith("running") for _, state, _ in stack.status()) else 3


def _env(_: argparse.Namespace) -> int:
    for name, value in LocalStack().service_env().items():
        print(f"export {name}='{value}'")
    return 0


def _topics_create(args: argparse.Namespace) -> int:
    settings = _kafka_settings(ADMIN_PRINCIPAL)
    if args.bootstrap_servers:
        settings = settings.model_copy(update={"bootstrap_servers": args.bootstrap_servers})

    async def create() -> list[str]:
        await wait_for_kafka(settings, timeout_s=args.wait)
        created = await ensure_topics(settings, ALL_TOPICS)
        await warm_group_coordinator(settings, ALL_TOPICS[0].name)
        return created

    try:
        created = asyncio.run(create())
    except TimeoutError as error:
        print(f"phananh topics create: {error}", file=sys.stderr)
        return 1
    for name in created:
        print(f"created {name}")
    print(f"{len(ALL_TOPICS)} topics present on {settings.bootstrap_servers}")
    return 0


def _api_key(args: argparse.Namespace) -> int:
    local = LocalStack().local_secrets()
    keys = {
        **json.loads(local["PHANANH_API_KEYS"]),
        **json.loads(local["PHANANH_OVERSIGHT_KEYS"]),
    }
    if args.client not in keys:
        print(f"no local API key for {args.client!r}; known: {', '.join(keys)}", file=sys.stderr)
        return 1
    print(keys[args.client])
    return 0


def _watch(args: argparse.Namespace) -> int:
    """Print the events of a topic as JSON lines, from now (or the beginning) on."""
    settings = _kafka_settings()

    async def watch() -> None:
        consumer = AIOKafkaConsumer(
            *args.topics,
            **settings.client_options(),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest" if args.from_beginning else "latest",
        )
        await consumer.start()
        try:
            async for record in consumer:
                try:
                    event = decode_event(record.topic, record.value)
                    line = event.model_dump(mode="json", exclude_none=True)
                except (ContractViolation, LookupError) as error:
                    line = {"topic": record.topic, "undecodable": str(error)}
                print(json.dumps({"topic": record.topic, **line}, ensure_ascii=False), flush=True)
        finally:
            await consumer.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(watch())
    return 0


class _EnvSettings(BaseSettings):
    """``PHANANH_KAFKA__*`` as the services read them."""

    model_config = SettingsConfigDict(
        env_prefix="PHANANH_", env_nested_delimiter="__", extra="ignore"
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)


def _kafka_settings(principal: str = OPERATOR_PRINCIPAL) -> KafkaSettings:
    """The cluster named by ``PHANANH_KAFKA__*`` (signed in as they say), else the local
    stack, signed in as ``principal`` when its broker is secured."""
    if os.environ.get("PHANANH_KAFKA__BOOTSTRAP_SERVERS"):
        return _EnvSettings().kafka
    return LocalStack().kafka_settings(principal)


def _kafka_plan(args: argparse.Namespace) -> int:
    agencies = kafka_security.agency_ids(Path(args.routing_config))
    for grant in access_plan(agencies):
        print(grant)
    return 0


def _kafka_acls(args: argparse.Namespace) -> int:
    agencies = kafka_security.agency_ids(Path(args.routing_config))
    settings = _kafka_settings(ADMIN_PRINCIPAL)
    try:
        if args.dry_run:
            print("\n".join(str(grant) for grant in access_plan(agencies)))
            return 0
        change = kafka_security.sync_acls(settings, agencies)
    except kafka_security.SecurityError as error:
        print(f"phananh kafka acls: {error}", file=sys.stderr)
        return 1
    for grant in change.created:
        print(f"+ {grant}")
    for grant in change.deleted:
        print(f"- {grant}")
    print(
        f"{len(change.created)} ACL(s) created, {len(change.deleted)} removed, for "
        f"{len(agencies)} agencies on {settings.bootstrap_servers}"
    )
    return 0


def _kafka_credentials(args: argparse.Namespace) -> int:
    if args.agency:
        principal = agency_principal(args.agency)
    elif args.service:
        principal = service_principal(args.service)
    else:
        principal = OPERATOR_PRINCIPAL
    settings = _kafka_settings(ADMIN_PRINCIPAL)
    password = kafka_security.new_password()
    if args.password_env:
        password = os.environ.get(args.password_env, "")
        if len(password) < 16:
            print(
                f"phananh kafka credentials: {args.password_env} must hold the password "
                "(16 characters or more)",
                file=sys.stderr,
            )
            return 2
    try:
        kafka_security.set_password(settings, principal, password)
    except kafka_security.SecurityError as error:
        print(f"phananh kafka credentials: {error}", file=sys.stderr)
        return 1
    if args.quiet:
        print(f"{principal}: password set")
        return 0
    protocol = settings.security_protocol
    if not protocol.startswith("SASL_"):
        protocol = "SASL_SSL"
    print(f"# Kafka credentials of {principal} (a new password; the old one no longer signs in)")
    print(f"PHANANH_KAFKA__BOOTSTRAP_SERVERS={args.advertise or settings.bootstrap_servers}")
    print(f"PHANANH_KAFKA__SECURITY_PROTOCOL={protocol}")
    print("PHANANH_KAFKA__SASL_MECHANISM=SCRAM-SHA-512")
    if settings.ssl_cafile:
        print("# the CA that signed the brokers' certificates: give the agency this file too")
        print(f"PHANANH_KAFKA__SSL_CAFILE={settings.ssl_cafile}")
    print(f"PHANANH_KAFKA__USERNAME={principal}")
    print(f"PHANANH_KAFKA__PASSWORD={password}")
    if args.agency:
        print(f"PHANANH_AGENCY_ID={args.agency}")
        inbox, group = agency_inbox_topic(args.agency).name, agency_group(args.agency)
        print(f"# reads:  {inbox} (with consumer group {group}, or none)")
        print(f"# writes: {agency_updates_topic(args.agency).name} (its updates, nothing else)")
    return 0


def _dlq_list(args: argparse.Namespace) -> int:
    try:
        services = dlq.services_named(args.services)
    except ValueError as error:
        print(f"phananh dlq list: {error}", file=sys.stderr)
        return 2
    letters = asyncio.run(dlq.read_dead_letters(_kafka_settings(), services))
    if args.json:
        for letter in letters:
            print(json.dumps(letter.summary(), ensure_ascii=False))
        return 0
    for letter in letters:
        row = letter.summary()
        print(
            f"{letter.service:<8} {letter.offset:>6}  {row['failed_at'] or '?':<32} {row['source']}"
        )
        print(f"{'':<16}{letter.reason}")
    print(f"{len(letters)} dead letter(s) in {', '.join(services)}")
    return 0


def _dlq_pick(args: argparse.Namespace) -> list[dlq.DeadLetter] | None:
    try:
        (service,) = dlq.services_named([args.service])
    except ValueError as error:
        print(f"phananh dlq: {error}", file=sys.stderr)
        return None
    letters = asyncio.run(dlq.read_dead_letters(_kafka_settings(), [service]))
    by_offset = {letter.offset: letter for letter in letters}
    missing = [offset for offset in args.offsets if offset not in by_offset]
    if missing:
        print(f"phananh dlq: no dead letter at offset {missing[0]} of {service}", file=sys.stderr)
        return None
    return [by_offset[offset] for offset in args.offsets]


def _dlq_show(args: argparse.Namespace) -> int:
    letters = _dlq_pick(args)
    if letters is None:
        return 1
    for letter in letters:
        print(json.dumps(letter.details(), ensure_ascii=False, indent=2))
    return 0


def _dlq_replay(args: argparse.Namespace) -> int:
    letters = _dlq_pick(args)
    if letters is None:
        return 1
    try:
        records = asyncio.run(dlq.replay(_kafka_settings(ADMIN_PRINCIPAL), letters))
    except ValueError as error:
        print(f"phananh dlq replay: {error}", file=sys.stderr)
        return 1
    for letter, record in zip(letters, records, strict=True):
        print(f"replayed {letter.ref} to {record.topic}")
    return 0


def _pseudonym_key() -> bytes | None:
    """Intake's pseudonym key: ``PHANANH_PSEUDONYM_KEY``, else the local stack's."""
    if value := os.environ.get("PHANANH_PSEUDONYM_KEY"):
        return value.encode()
    if os.environ.get("PHANANH_KAFKA__BOOTSTRAP_SERVERS"):
        return None  # another cluster: the local stack's key would name someone else
    return LocalStack().local_secrets()["PHANANH_PSEUDONYM_KEY"].encode()


def _forget(args: argparse.Namespace) -> int:
    users: list[tuple[str, str]] = []
    for named in args.channel_user:
        channel, colon, user = named.partition(":")
        if not colon or not channel or not user:
            print(f"phananh forget: --channel-user is CHANNEL:ID, not {named!r}", file=sys.stderr)
            return 2
        users.append((channel, user))
    whom = forget.Whom(
        tracking_codes=tuple(code.strip().upper() for code in args.code),
        phones=tuple(args.phone),
        emails=tuple(args.email),
        channel_users=tuple(users),
        pseudonyms=tuple(args.pseudonym),
    )
    try:
        erasure = asyncio.run(
            forget.forget(
                _kafka_settings(),
                whom,
                pseudonym_key=_pseudonym_key(),
                reason=args.reason,
                operator=args.operator,
                request_id=args.request_id,
                dry_run=args.dry_run,
            )
        )
    except (forget.ForgetError, LookupError) as error:
        print(f"phananh forget: {error}", file=sys.stderr)
        return 2
    receipt = erasure.receipt() | {"dry_run": args.dry_run}
    if args.json:
        print(json.dumps(receipt, ensure_ascii=False))
    else:
        verb = "would destroy" if args.dry_run else "destroyed"
        print(f"request {erasure.request_id}: {verb} {len(erasure.destroyed)} contact key(s)")
        print(f"  citizens: {', '.join(sorted(erasure.citizens)) or 'none found'}")
        if erasure.already_destroyed:
            print(f"  {erasure.already_destroyed} key(s) were destroyed before")
        if erasure.destroyed and not args.dry_run:
            print(
                "  notify deletes them now and sends these citizens nothing more; the brokers "
                "erase them from disk within a day (log compaction)"
            )
    if not erasure.citizens:
        return 1  # nobody found: nothing filed under that name
    return 0


def _topics_list(_: argparse.Namespace) -> int:
    for topic in ALL_TOPICS:
        print(f"{topic.name:<32} {topic.partitions:>3} partitions  {topic.description}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="phananh", description="Operate the citizen-report platform."
    )
    commands = root.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start Kafka, the database and the services locally")
    up.add_argument("--infra-only", action="store_true", help="start Kafka and the database only")
    up.set_defaults(run=_up)
    commands.add_parser("down", help="stop everything `up` started").set_defaults(run=_down)
    commands.add_parser("status", help="show what runs and where").set_defaults(run=_status)
    commands.add_parser("env", help="print exports for the local stack").set_defaults(run=_env)

    key = commands.add_parser("api-key", help="print a local API key of an HTTP channel client")
    key.add_argument(
        "client",
        help="e.g. app:sonla-smart, hotline:tong-dai, open311:clients, leadership:thanh-uy",
    )
    key.set_defaults(run=_api_key)
    watch = commands.add_parser("watch", help="print the events of topics as JSON lines")
    watch.add_argument("topics", nargs="+", help="e.g. pakn.reports.v1 pakn.reports.rejected.v1")
    watch.add_argument("--from-beginning", action="store_true", help="not only new events")
    watch.set_defaults(run=_watch)

    topics = commands.add_parser("topics", help="the contract topics").add_subparsers(
        dest="topics_command", required=True
    )
    create = topics.add_parser("create", help="create missing topics on a Kafka cluster")
    create.add_argument("--bootstrap-servers", help="default: PHANANH_KAFKA__BOOTSTRAP_SERVERS")
    create.add_argument("--wait", type=float, default=120.0, help="seconds to wait for Kafka")
    create.set_defaults(run=_topics_create)
    topics.add_parser("list", help="list the contract topics").set_defaults(run=_topics_list)

    letters = commands.add_parser(
        "dlq", help="list, inspect and replay the records services dead-lettered"
    ).add_subparsers(dest="dlq_command", required=True)
    listing = letters.add_parser("list", help="every dead letter, with its reason and source")
    listing.add_argument("services", nargs="*", help="intake, routing, notify, audit (all)")
    listing.add_argument("--json", action="store_true", help="one JSON document per line")
    listing.set_defaults(run=_dlq_list)
    for name, run, what in (
        ("show", _dlq_show, "print dead letters in full (headers, key, value)"),
        ("replay", _dlq_replay, "put dead letters back on their source topics, once fixed"),
    ):
        command = letters.add_parser(name, help=what)
        command.add_argument("service", help="intake, routing, notify or audit")
        command.add_argument("offsets", nargs="+", type=int, help="offsets from `dlq list`")
        command.set_defaults(run=run)
    kafka = commands.add_parser(
        "kafka", help="principals, credentials and ACLs of a secured Kafka cluster"
    ).add_subparsers(dest="kafka_command", required=True)
    default_rules = os.environ.get("PHANANH_ROUTING_CONFIG", "config/son-la/routing.yaml")
    plan = kafka.add_parser("plan", help="print every ACL the access plan grants")
    acls = kafka.add_parser("acls", help="create missing ACLs, remove stale ones (as admin)")
    acls.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    for command, run in ((plan, _kafka_plan), (acls, _kafka_acls)):
        command.add_argument(
            "--routing-config", default=default_rules, help="whose agencies get ACLs"
        )
        command.set_defaults(run=run)
    credentials = kafka.add_parser(
        "credentials", help="create or rotate a principal's password and print it (as admin)"
    )
    who = credentials.add_mutually_exclusive_group(required=True)
    who.add_argument("--agency", help="an agency id of the routing configuration")
    who.add_argument("--service", choices=SERVICES, help="a service")
    who.add_argument("--operator", action="store_true", help="the operators' principal")
    credentials.add_argument(
        "--password-env",
        metavar="VARIABLE",
        help="set the password held by this environment variable instead of a new random "
        "one (a deployment that keeps its passwords in its own secret store)",
    )
    credentials.add_argument(
        "--advertise",
        metavar="HOST:PORT,…",
        help="the brokers' address to print for the principal (default: the one used here, "
        "which may be an operators' listener agencies cannot reach)",
    )
    credentials.add_argument(
        "--quiet", action="store_true", help="print only that the password was set"
    )
    credentials.set_defaults(run=_kafka_credentials)

    erase = commands.add_parser(
        "forget",
        help="erase a citizen's contact everywhere: destroy the keys it is sealed under",
        description=forget.__doc__.split("\n\n")[1] if forget.__doc__ else None,
    )
    erase.add_argument("--code", action="append", default=[], help="a tracking code (repeat)")
    erase.add_argument("--phone", action="append", default=[], help="a phone number (repeat)")
    erase.add_argument("--email", action="append", default=[], help="an email address (repeat)")
    erase.add_argument(
        "--channel-user",
        action="append",
        default=[],
        metavar="CHANNEL:ID",
        help="the citizen's user id on a channel, e.g. zalo:2468… (repeat)",
    )
    erase.add_argument("--pseudonym", action="append", default=[], help="ctz-… (repeat)")
    erase.add_argument("--reason", required=True, help="why, e.g. the request's reference")
    erase.add_argument("--operator", default=os.environ.get("USER", "operator"), help="who")
    erase.add_argument("--request-id", help="the erasure request's id (default: a new one)")
    erase.add_argument("--dry-run", action="store_true", help="say what would go; change nothing")
    erase.add_argument("--json", action="store_true", help="print the receipt as JSON")
    erase.set_defaults(run=_forget)
    return root


def app(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    # A fresh broker answers "coordinator not available" for a moment while it
    # creates its offsets topic; the CLI waits for it, so the noise is useless.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    sys.exit(args.run(args))


if __name__ == "__main__":
    app()
