"""The command ``phananh-agency --agency ID COMMAND`` for officers.

    phananh-agency --agency ubnd-chieng-sinh inbox [--json] [--all]
    phananh-agency --agency ubnd-chieng-sinh accept SL-2303-7KQ4M9 [--officer cb-042]
    phananh-agency --agency ubnd-chieng-sinh progress SL-2303-7KQ4M9 [--note "…"]
    phananh-agency --agency ubnd-chieng-sinh ask SL-2303-7KQ4M9 --note "câu hỏi …"
    phananh-agency --agency ubnd-chieng-sinh reject SL-2303-7KQ4M9 --note "lý do" [--suggest ID]
    phananh-agency --agency ubnd-chieng-sinh resolve SL-2303-7KQ4M9 --note "kết quả"
    phananh-agency --agency ubnd-chieng-sinh reopen SL-2303-7KQ4M9 --note "…"
    phananh-agency --agency ubnd-chieng-sinh web [--host 127.0.0.1] [--port 8090]

Triage corrections (the triage desk for a report it holds, the lead agency for its own;
``--reason`` is required and kept in the trail):

    phananh-agency --agency ID recategorize SL-2303-7KQ4M9 --category traffic_safety --reason "…"
    phananh-agency --agency ID replace SL-2303-7KQ4M9 --ward 03679 [--group "Tổ 8"] --reason "…"
    phananh-agency --agency ID out-of-scope SL-2303-7KQ4M9 --reason "… (người dân đọc)"
    phananh-agency --agency ID link SL-2303-4HC8WD --to SL-2303-7KQ4M9 --reason "…"
    phananh-agency --agency ID unlink SL-2303-4HC8WD --reason "…"

``--wait SECONDS`` watches the inbox after sending for routing's refusal of that very
update. Exit status: 0 done, 1 refused or not found, 2 usage or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from phananh_contracts import AgencyUpdateKind
from phananh_contracts.access import agency_principal
from pydantic import ValidationError

from phananh_agency.client import AgencyClient
from phananh_agency.domain import KIND_LABELS
from phananh_agency.errors import AgencyClientError
from phananh_agency.settings import AGENCY_ENV, ClientSettings
from phananh_agency.text import inbox_json, render_inbox


@dataclass(frozen=True)
class UpdateCommand:
    """One update an officer can send (a command here, a form on the web inbox)."""

    kind: AgencyUpdateKind
    help: str
    note: Literal["optional", "required"]
    note_help: str


UPDATE_COMMANDS: dict[str, UpdateCommand] = {
    "accept": UpdateCommand(
        AgencyUpdateKind.ACCEPTED, "tiếp nhận phản ánh", "optional", "ghi chú (tuỳ chọn)"
    ),
    "progress": UpdateCommand(
        AgencyUpdateKind.IN_PROGRESS,
        "báo đang xử lý",
        "optional",
        "tiến độ, người dân sẽ được thông báo",
    ),
    "ask": UpdateCommand(
        AgencyUpdateKind.NEEDS_INFORMATION,
        "hỏi người dân thêm thông tin (chỉ đơn vị chủ trì)",
        "required",
        "câu hỏi cho người dân",
    ),
    "reject": UpdateCommand(
        AgencyUpdateKind.REJECTED,
        "từ chối: phản ánh không thuộc thẩm quyền",
        "required",
        "lý do từ chối",
    ),
    "resolve": UpdateCommand(
        AgencyUpdateKind.RESOLVED,
        "báo đã giải quyết",
        "required",
        "kết quả giải quyết, người dân sẽ được thông báo",
    ),
    "reopen": UpdateCommand(
        AgencyUpdateKind.REOPENED,
        "mở lại phản ánh đã giải quyết (chỉ đơn vị chủ trì)",
        "required",
        "lý do mở lại",
    ),
}


@dataclass(frozen=True)
class CorrectionCommand:
    """A triage correction an officer can send (a command here, a form on the web inbox;
    ``--reason`` required)."""

    kind: AgencyUpdateKind
    help: str
    reason_help: str


CORRECTION_COMMANDS: dict[str, CorrectionCommand] = {
    "recategorize": CorrectionCommand(
        AgencyUpdateKind.RECATEGORIZED,
        "phân loại lại lĩnh vực của phản ánh (--category); định tuyến quyết định lại",
        "lý do phân loại lại (ghi vào nhật ký)",
    ),
    "replace": CorrectionCommand(
        AgencyUpdateKind.RELOCATED,
        "điều chỉnh địa điểm (--ward, --group); định tuyến quyết định lại",
        "lý do điều chỉnh địa điểm (ghi vào nhật ký)",
    ),
    "out-of-scope": CorrectionCommand(
        AgencyUpdateKind.OUT_OF_SCOPE,
        "phản ánh không thuộc phạm vi tiếp nhận: kết thúc, báo người dân lý do",
        "lý do và nơi người dân có thể gửi (người dân sẽ đọc)",
    ),
    "link": CorrectionCommand(
        AgencyUpdateKind.LINKED,
        "gộp phản ánh vào phản ánh gốc trùng nội dung (--to)",
        "lý do gộp (ghi vào nhật ký)",
    ),
    "unlink": CorrectionCommand(
        AgencyUpdateKind.UNLINKED,
        "tách phản ánh bị gộp nhầm: phản ánh được xử lý riêng",
        "lý do tách (ghi vào nhật ký)",
    ),
}


def _connection_options(*, before_command: bool) -> argparse.ArgumentParser:
    """``--agency`` and ``--bootstrap``, accepted before or after the command.

    After the command they default to nothing, so they never hide a value given before.
    """
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--agency",
        metavar="ID",
        default=os.environ.get(AGENCY_ENV) if before_command else argparse.SUPPRESS,
        help=f"mã đơn vị, ví dụ ubnd-chieng-sinh (hoặc biến môi trường {AGENCY_ENV})",
    )
    options.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        default=None if before_command else argparse.SUPPRESS,
        help="Kafka (mặc định: PHANANH_KAFKA__BOOTSTRAP_SERVERS, hoặc 127.0.0.1:9092)",
    )
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phananh-agency",
        description="Hộp thư phản ánh kiến nghị của một đơn vị: xem và trả lời.",
        parents=[_connection_options(before_command=True)],
    )
    connection = _connection_options(before_command=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    inbox = commands.add_parser("inbox", parents=[connection], help="xem hộp thư")
    inbox.add_argument("--json", action="store_true", help="in JSON cho máy đọc")
    inbox.add_argument("--all", action="store_true", help="kèm các phản ánh đã rời hộp thư")

    web = commands.add_parser(
        "web",
        parents=[connection],
        help="mở hộp thư trên web cho cán bộ (PHANANH_AGENCY_WEB_PASSWORD, …_SESSION_SECRET)",
    )
    web.add_argument("--host", default="127.0.0.1", help="địa chỉ lắng nghe (mặc định 127.0.0.1)")
    web.add_argument("--port", type=int, default=8090, help="cổng (mặc định 8090)")

    for name, command in UPDATE_COMMANDS.items():
        sub = commands.add_parser(name, parents=[connection], help=command.help)
        sub.add_argument("ref", metavar="REF", help="mã tra cứu (SL-2303-7KQ4M9) hoặc mã phản ánh")
        sub.add_argument("--note", required=command.note == "required", help=command.note_help)
        if command.kind == AgencyUpdateKind.REJECTED:
            sub.add_argument("--suggest", metavar="AGENCY", help="mã đơn vị đề xuất xử lý thay")
        sub.add_argument("--officer", metavar="X", help="mã cán bộ phụ trách (của đơn vị)")
        sub.add_argument(
            "--wait",
            metavar="SECONDS",
            type=float,
            default=0.0,
            help="sau khi gửi, chờ chừng ấy giây xem định tuyến có từ chối không (mặc định 0)",
        )
        sub.add_argument("--json", action="store_true", help="in sự kiện đã gửi dạng JSON")
    for name, correction in CORRECTION_COMMANDS.items():
        sub = commands.add_parser(name, parents=[connection], help=correction.help)
        sub.add_argument("ref", metavar="REF", help="mã tra cứu (SL-2303-7KQ4M9) hoặc mã phản ánh")
        sub.add_argument(
            "--reason", "--note", dest="note", required=True, help=correction.reason_help
        )
        if correction.kind == AgencyUpdateKind.RECATEGORIZED:
            sub.add_argument("--category", required=True, help="mã lĩnh vực, ví dụ traffic_safety")
        if correction.kind == AgencyUpdateKind.RELOCATED:
            sub.add_argument("--ward", required=True, metavar="CODE", help="mã phường, xã (5 số)")
            sub.add_argument("--group", metavar="TEXT", help="tổ dân phố, bản, tiểu khu")
        if correction.kind == AgencyUpdateKind.LINKED:
            sub.add_argument(
                "--to",
                required=True,
                metavar="REF",
                help="phản ánh gốc (mã tra cứu hoặc mã phản ánh)",
            )
        sub.add_argument("--officer", metavar="X", help="mã cán bộ phụ trách (của đơn vị)")
        sub.add_argument(
            "--wait",
            metavar="SECONDS",
            type=float,
            default=0.0,
            help="sau khi gửi, chờ chừng ấy giây xem định tuyến có từ chối không (mặc định 0)",
        )
        sub.add_argument("--json", action="store_true", help="in sự kiện đã gửi dạng JSON")
    return parser


def main(argv: Sequence[str] | None = None, *, now: datetime | None = None) -> int:
    """Run one command; the exit status (0 done, 1 refused or not found, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    if not args.agency:
        return _usage(parser, f"thiếu --agency (hoặc biến môi trường {AGENCY_ENV})")
    try:
        settings = ClientSettings()
    except ValidationError as error:
        for problem in error.errors():
            path = "__".join(str(part) for part in problem["loc"]).upper()
            _say(f"phananh-agency: PHANANH_{path}: {problem['msg']}")
        return 2
    kafka = settings.kafka
    if args.bootstrap is not None:
        kafka = kafka.model_copy(update={"bootstrap_servers": args.bootstrap})
    if not re.fullmatch(r"\S+:[0-9]+(,\S+:[0-9]+)*", kafka.bootstrap_servers):
        return _usage(parser, f"địa chỉ Kafka không hợp lệ: {kafka.bootstrap_servers!r}")
    try:
        client = AgencyClient(kafka, args.agency)
    except ValueError:
        return _usage(parser, f"mã đơn vị không hợp lệ: {args.agency!r}")
    if args.command == "web":
        return _serve(client, args.host, args.port)
    if args.command != "inbox" and args.wait < 0:
        return _usage(parser, "--wait phải ≥ 0")
    try:
        return asyncio.run(_run(client, args, now))
    except AgencyClientError as error:
        _say(f"phananh-agency: {error.message}")
        return error.exit_code
    except KeyboardInterrupt:
        return 130


async def _run(client: AgencyClient, args: argparse.Namespace, now: datetime | None) -> int:
    if args.command == "inbox":
        inbox = await client.inbox()
        moment = now if now is not None else datetime.now(UTC)
        if args.json:
            document = inbox_json(inbox, client.agency_id, now=moment, include_closed=args.all)
            print(json.dumps(document, ensure_ascii=False, indent=2))
        else:
            print(render_inbox(inbox, client.agency_id, now=moment, include_closed=args.all))
        return 0

    command = UPDATE_COMMANDS.get(args.command) or CORRECTION_COMMANDS[args.command]
    target, update = await client.prepare(
        args.ref,
        command.kind,
        note=args.note,
        suggested_agency_id=getattr(args, "suggest", None),
        officer_ref=args.officer,
        category=getattr(args, "category", None),
        ward_code=getattr(args, "ward", None),
        residential_group=getattr(args, "group", None),
        link_to=getattr(args, "to", None),
    )
    await client.publish(update)
    if args.json:
        print(update.model_dump_json(exclude_none=True))
    else:
        print(
            f"Đã gửi «{KIND_LABELS[command.kind]}» cho {target.tracking_code} "
            f"(mã sự kiện {update.id})."
        )
    if args.wait <= 0:
        return 0
    refusal = await client.wait_for_refusal(update.id, timeout_s=args.wait)
    if refusal is not None:
        _say(f"phananh-agency: {target.tracking_code}: cập nhật {refusal.describe()}")
        return 1
    if not args.json:
        print(f"Không có từ chối nào trong {args.wait:g} giây.")
    return 0


def _serve(client: AgencyClient, host: str, port: int) -> int:
    """The agency's web inbox until interrupted (``phananh_agency.web``)."""
    import uvicorn

    from phananh_agency.settings import WebSettings
    from phananh_agency.web import create_web_app

    principal = agency_principal(client.agency_id)
    if client.kafka.username and client.kafka.username != principal:
        _say(
            f"phananh-agency: PHANANH_KAFKA__USERNAME là {client.kafka.username}, không phải "
            f"{principal}: trang của một đơn vị chỉ làm việc bằng tài khoản Kafka của chính nó."
        )
        return 2
    try:
        settings = WebSettings()  # read from the environment
    except ValidationError as error:
        for problem in error.errors():
            name = "PHANANH_AGENCY_WEB_" + "__".join(str(part) for part in problem["loc"]).upper()
            _say(f"phananh-agency: {name}: {problem['msg'].removeprefix('Value error, ')}")
        return 2
    client.read_timeout_s = min(client.read_timeout_s, 20.0)  # a page should not hang
    app = create_web_app(client, settings)
    _say(f"phananh-agency: hộp thư của {client.agency_id} tại http://{host}:{port}/")
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)
    return 0


def _usage(parser: argparse.ArgumentParser, message: str) -> int:
    parser.print_usage(sys.stderr)
    _say(f"phananh-agency: {message}")
    return 2


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def main_entry() -> None:
    """Console script ``phananh-agency``."""
    # Broker trouble reaches the officer as one clear message, not aiokafka's log lines.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        status = main(sys.argv[1:])
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. ``phananh-agency … inbox --json | head``
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 1
    sys.exit(status)
