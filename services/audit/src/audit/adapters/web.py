"""The web pages audit serves: the leadership board and the citizens' lookup page.

Server-rendered HTML (jinja2, autoescaped), in Vietnamese, usable on a 375 px screen;
a small script only enhances (the rating form). See docs/web.md.

Leadership board, role-protected like the oversight API (``/oversight/v1``):

``GET /board``
    Figures of a period for a ward, lead agency or category (table, inline SVG bars),
    the overdue reports with the agency holding each, and who escalated what: each step
    of a report up the escalation ladder (from which agency and level to which, when).
``GET /board/reports/{ref}``
    One report's trail (by report id or tracking code) and whether its part of each
    chain is intact and signed (``audit.domain.report_proof``).
``GET|POST /board/login``, ``POST /board/logout``
    Sign in with an oversight key: the answer sets a signed session cookie
    (``phananh_board``: HttpOnly, SameSite=Strict, Path=/board, Secure on https) naming
    the key's role, never the key. Scripts may send the key on every request instead
    (``X-Api-Key`` or ``Authorization: Bearer``), as with the oversight API.

An ``agency:<id>`` role sees the figures and overdue reports of the reports its agency
leads, and only those reports' trails (403 otherwise), as with the oversight API.

Citizens, public:

``GET /tra-cuu?ma=SL-2303-7KQ4M9``
    The report's history in plain Vietnamese (``audit.domain.citizen_history``), nothing
    personal, and how to rate the result. A malformed code gets 400, an unknown one 404,
    both with a Vietnamese message; each lookup takes a token from the client IP's
    bucket (429 with ``Retry-After`` when empty). Reports are looked up by tracking code
    only, never by report id.

Every page carries ``Cache-Control: no-store``, ``Referrer-Policy: no-referrer`` and a
Content-Security-Policy allowing only this origin's styles and script.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from audit.adapters.oversight_http import FactsReader, Principal
from audit.adapters.web_guard import BoardSessions, RateLimiter
from audit.domain.board import (
    BoardFilter,
    agency_label,
    bar_chart,
    escalated_reports,
    filter_options,
    overdue_reports,
)
from audit.domain.checkpoints import SignedCheckpoint, UnreadableCheckpoint, signature_problem
from audit.domain.citizen_history import (
    CHANNEL_LABELS,
    LOCAL_TIME,
    citizen_history,
    local_date,
    local_datetime,
)
from audit.domain.facts import ReportFacts, fold
from audit.domain.figures import FigureRow, GroupBy, compute_figures, period_of
from audit.domain.report_proof import ChainProof, SignedHead, covering_head, prove_segment

logger = logging.getLogger("audit.web")

PACKAGE = Path(__file__).resolve().parent.parent
TEMPLATES = PACKAGE / "templates" / "web"
STATIC = PACKAGE / "static"

BOARD = "/board"
LOOKUP = "/tra-cuu"
COOKIE = "phananh_board"
SEGMENT_LIMIT = 20_000
"""Records of one chain a trail page checks at most."""
OVERDUE_SHOWN = 200
ESCALATIONS_SHOWN = 200
LEVEL_LABELS = {
    "ward": "cấp phường",
    "city": "cấp thành phố",
    "province": "cấp tỉnh",
    "leadership": "lãnh đạo",
}
"""The levels of the escalation ladder, as the board names them."""

TRACKING_CODE = re.compile(r"^[A-Z]{2,4}-[0-9]{4}-[0-9A-HJKMNP-TV-Z]{6}$")
"""The contract's tracking code (phananh_contracts.TrackingCode)."""
_CODE_LIKE = re.compile(r"^\S{1,128}$")
_WARD = re.compile(r"^[0-9]{5}$")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BOARD_GROUPS: tuple[tuple[GroupBy, str], ...] = (
    ("ward", "Phường, xã"),
    ("agency", "Cơ quan chủ trì"),
    ("category", "Lĩnh vực"),
    ("channel", "Kênh tiếp nhận"),
)
CHART_SERIES = (("received", "Tiếp nhận"), ("resolved", "Đã giải quyết"), ("overdue", "Quá hạn"))
EVENT_LABELS: Mapping[str, str] = {
    "vn.pakn.report.received": "Tiếp nhận phản ánh",
    "vn.pakn.report.rejected": "Không tiếp nhận",
    "vn.pakn.citizen.replied": "Người dân phản hồi",
    "vn.pakn.report.assigned": "Giao xử lý",
    "vn.pakn.agency.update": "Cơ quan cập nhật",
    "vn.pakn.agency.update.refused": "Cập nhật bị từ chối",
    "vn.pakn.report.status.changed": "Đổi trạng thái",
    "vn.pakn.deadline.warning": "Cảnh báo sắp hết hạn",
    "vn.pakn.deadline.breached": "Quá hạn",
    "vn.pakn.report.escalated": "Chuyển cấp trên",
    "vn.pakn.notification.sent": "Đã gửi thông báo",
    "vn.pakn.notification.failed": "Gửi thông báo thất bại",
    "invalid": "Sự kiện không hợp lệ",
}
ACTOR_LABELS: Mapping[str, str] = {
    "service": "hệ thống",
    "agency": "cơ quan",
    "collaborator": "cộng tác viên",
    "operator": "quản trị viên",
    "unknown": "không rõ",
}
_HIDDEN_PAYLOAD_KEYS = frozenset({"reporter", "recipient_pseudonym", "contact_ciphertext"})


def _now() -> datetime:
    return datetime.now(UTC)


class WebTrail(Protocol):
    """The trail, as the web pages read it (implemented by ``TrailStore``)."""

    async def records_of_report(self, ref: str) -> Sequence[Mapping[str, Any]]: ...

    async def records_of_tracking_code(self, code: str) -> Sequence[Mapping[str, Any]]: ...

    async def chain_segment(
        self, chain_id: str, first: int, last: int | None = None, *, limit: int = ...
    ) -> Sequence[Mapping[str, Any]]: ...

    async def checkpoints_since(
        self, moment: datetime, *, limit: int = ...
    ) -> Sequence[SignedCheckpoint | UnreadableCheckpoint]: ...


@dataclass(frozen=True)
class WebContext:
    """What the web pages need, built once by the composition root."""

    facts: FactsReader
    trail: WebTrail
    role_keys: Mapping[str, str]
    """Oversight API key -> role name (as ``OversightContext.role_keys``)."""
    sessions: BoardSessions
    lookups: RateLimiter
    """Per client IP: tracking-code lookups."""
    logins: RateLimiter
    """Per client IP: board sign-in attempts."""
    public_keys: Mapping[str, Ed25519PublicKey] = field(default_factory=dict)
    ward_names: Mapping[str, str] = field(default_factory=dict)
    agency_names: Mapping[str, str] = field(default_factory=dict)
    category_names: Mapping[str, str] = field(default_factory=dict)
    reply_url: str | None = None
    cookie_secure: bool = False
    clock: Callable[[], datetime] = _now
    max_days: int = 366
    default_days: int = 30


class PageError(Exception):
    """A request answered with an error page."""

    def __init__(
        self, status: int, title: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.title, self.message, self.headers = status, title, message, headers


def web_routes(ctx: WebContext) -> list[BaseRoute]:
    """The web pages' routes, to add to the service's HTTP app."""
    pages = _Pages(ctx)
    return [
        Route(LOOKUP, pages.guarded(pages.lookup), methods=["GET"]),
        Route(BOARD, pages.guarded(pages.board), methods=["GET"]),
        Route(f"{BOARD}/login", pages.guarded(pages.login_form), methods=["GET"]),
        Route(f"{BOARD}/login", pages.guarded(pages.login), methods=["POST"]),
        Route(f"{BOARD}/logout", pages.guarded(pages.logout), methods=["POST"]),
        Route(f"{BOARD}/reports/{{ref}}", pages.guarded(pages.report), methods=["GET"]),
        Mount("/static/web", StaticFiles(directory=STATIC), name="web-static"),
    ]


def templates() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        ngay_gio=local_datetime,
        ngay=local_date,
        so=vietnamese_number,
        tre=late_by,
        ngan=lambda text, n=12: text if len(text) <= n else f"{text[:n]}…",
    )
    return environment


def vietnamese_number(value: float | int | None, decimals: int = 1) -> str:
    """12345 -> '12.345', 92.5 -> '92,5'; None -> '—'."""
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    text = f"{value:,.{decimals}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def late_by(duration: timedelta | None) -> str:
    """'3 ngày 4 giờ', '5 giờ', 'dưới 1 giờ'."""
    if duration is None:
        return "—"
    hours = int(duration.total_seconds() // 3600)
    days, hours = divmod(hours, 24)
    if days and hours:
        return f"{days} ngày {hours} giờ"
    if days:
        return f"{days} ngày"
    return f"{hours} giờ" if hours else "dưới 1 giờ"


class _Pages:
    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.env = templates()
        reply_origin = ""
        if ctx.reply_url:
            parts = urlsplit(ctx.reply_url)
            reply_origin = f" {parts.scheme}://{parts.netloc}"
        self.csp = (
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
            f"form-action 'self'{reply_origin}; base-uri 'none'; frame-ancestors 'none'"
        )

    # ---------------------------------------------------------------- plumbing

    def guarded(self, handler: Callable[[Request], Awaitable[Response]]) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                response = await handler(request)
            except PageError as error:
                response = self.render(
                    "error.html",
                    error.status,
                    title=error.title,
                    message=error.message,
                    board=request.url.path.startswith(BOARD),
                )
                for name, value in (error.headers or {}).items():
                    response.headers[name] = value
            response.headers["Cache-Control"] = "no-store"
            response.headers["Referrer-Policy"] = "no-referrer"
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Content-Security-Policy"] = self.csp
            return response

        return endpoint

    def render(self, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(**values)
        return HTMLResponse(unicodedata.normalize("NFC", html), status)

    # ---------------------------------------------------------------- citizens

    async def lookup(self, request: Request) -> Response:
        ctx = self.ctx
        raw = request.query_params.get("ma")
        if raw is None or not raw.strip():
            return self.render("lookup.html", code="", history=None, reply_url=ctx.reply_url)
        wait = ctx.lookups.take(_client(request))
        if wait:
            raise PageError(
                429,
                "Tra cứu quá nhiều lần",
                f"Bạn đã tra cứu quá nhiều lần trong thời gian ngắn. "
                f"Xin thử lại sau {int(wait)} giây.",
                {"Retry-After": str(int(wait))},
            )
        code = normalize_code(raw)
        if not TRACKING_CODE.fullmatch(code):
            return self.render(
                "lookup.html",
                400,
                code=raw[:64],
                history=None,
                reply_url=None,
                error=(
                    "Mã tra cứu không đúng định dạng. Mã gồm chữ viết tắt của thành phố, "
                    "bốn chữ số và sáu ký tự, ví dụ SL-2303-7KQ4M9."
                ),
            )
        records = await ctx.trail.records_of_tracking_code(code)
        history = citizen_history(code, records) if records else None
        if history is None:
            return self.render(
                "lookup.html",
                404,
                code=code,
                history=None,
                reply_url=None,
                error=(
                    f"Không tìm thấy phản ánh, kiến nghị có mã {code}. Xin kiểm tra lại mã "
                    "trong tin nhắn xác nhận; phản ánh vừa gửi có thể cần vài phút mới tra "
                    "cứu được."
                ),
            )
        return self.render("lookup.html", code=code, history=history, reply_url=ctx.reply_url)

    # ---------------------------------------------------------------- sign-in

    async def login_form(self, request: Request) -> Response:
        return self.render(
            "login.html", next=_safe_next(request.query_params.get("next")), error=None
        )

    async def login(self, request: Request) -> Response:
        ctx = self.ctx
        wait = ctx.logins.take(_client(request))
        if wait:
            raise PageError(
                429,
                "Đăng nhập quá nhiều lần",
                f"Đã thử đăng nhập quá nhiều lần. Xin thử lại sau {int(wait)} giây.",
                {"Retry-After": str(int(wait))},
            )
        body = await request.body()
        if len(body) > 4096:
            raise PageError(413, "Yêu cầu quá lớn", "Nội dung gửi lên quá lớn.")
        form = parse_qs(body.decode("utf-8", "replace"))
        presented = (form.get("key") or [""])[0].strip()
        target = _safe_next((form.get("next") or [""])[0])
        role = _role_of_key(ctx.role_keys, presented)
        if role is None:
            return self.render("login.html", 401, next=target, error="Khóa truy cập không đúng.")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            ctx.sessions.issue(role),
            max_age=int(ctx.sessions.ttl_s),
            path=BOARD,
            httponly=True,
            samesite="strict",
            secure=ctx.cookie_secure or request.url.scheme == "https",
        )
        return response

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse(f"{BOARD}/login", status_code=303)
        response.delete_cookie(COOKIE, path=BOARD, httponly=True, samesite="strict")
        return response

    def principal(self, request: Request) -> Principal | None:
        """Who is asking: an API key in the headers (401 page when wrong), else the
        session cookie; None when neither."""
        headers = request.headers
        if "authorization" in headers or "x-api-key" in headers:
            scheme, _, credentials = headers.get("authorization", "").partition(" ")
            bearer = credentials.strip() if scheme.lower() == "bearer" else ""
            presented = bearer or headers.get("x-api-key", "").strip()
            found = _role_of_key(self.ctx.role_keys, presented)
            if found is None:
                raise PageError(
                    401,
                    "Cần đăng nhập",
                    "Khóa truy cập không đúng.",
                    {"WWW-Authenticate": 'Bearer realm="phananh-oversight"'},
                )
            return Principal.of(found)
        role = self.ctx.sessions.read(request.cookies.get(COOKIE))
        return Principal.of(role) if role else None

    def signed_in(self, request: Request) -> Principal | Response:
        who = self.principal(request)
        if who is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"{BOARD}/login?{urlencode({'next': target})}", status_code=303)
        return who

    # ---------------------------------------------------------------- board

    async def board(self, request: Request) -> Response:
        who = self.signed_in(request)
        if isinstance(who, Response):
            return who
        ctx = self.ctx
        now = ctx.clock()
        first, last = self._period(request, now)
        selected = BoardFilter(
            ward_code=_param(request, "ward", _WARD, "phường, xã"),
            agency_id=_param(request, "agency", _CODE, "cơ quan"),
            category=_param(request, "category", _CODE, "lĩnh vực"),
        )
        groups = dict(BOARD_GROUPS)
        group_by = next(
            (g for g in groups if g == (request.query_params.get("group_by") or "ward")), None
        )
        if group_by is None:
            raise PageError(400, "Bộ lọc không hợp lệ", "Cách nhóm số liệu không hợp lệ.")
        start, end = period_of(first, last)
        period_facts = await ctx.facts.facts_received_between(
            start, end, lead_agency_id=who.agency_id
        )
        shown = [facts for facts in period_facts if selected.keeps(facts)]
        (total,) = compute_figures(shown, start, end, now)
        rows = compute_figures(shown, start, end, now, group_by)
        labels = self._labels(group_by, rows)
        return self.render(
            "board.html",
            who=who,
            now=now,
            first=first,
            last=last,
            selected=selected,
            group_by=group_by,
            groups=BOARD_GROUPS,
            group_title=groups[group_by],
            options=filter_options(
                period_facts,
                ward_names=ctx.ward_names,
                agency_names=ctx.agency_names,
                category_names=ctx.category_names,
                selected=selected,
            ),
            total=total,
            rows=rows,
            labels=labels,
            chart=bar_chart(rows, labels, CHART_SERIES),
            overdue=overdue_reports(shown, now)[:OVERDUE_SHOWN],
            overdue_count=total.overdue,
            escalations=(escalations := escalated_reports(shown))[:ESCALATIONS_SHOWN],
            escalation_count=len(escalations),
            level_labels=LEVEL_LABELS,
            agency_names=ctx.agency_names,
            ward_names=ctx.ward_names,
            category_names=ctx.category_names,
            agency_label=agency_label,
        )

    def _period(self, request: Request, now: datetime) -> tuple[date, date]:
        today = now.astimezone(LOCAL_TIME).date()
        first = _day(request, "from") or today - timedelta(days=self.ctx.default_days - 1)
        last = _day(request, "to") or today
        if last < first:
            raise PageError(
                400, "Khoảng thời gian không hợp lệ", "Ngày kết thúc trước ngày bắt đầu."
            )
        if (last - first).days + 1 > self.ctx.max_days:
            raise PageError(
                400,
                "Khoảng thời gian không hợp lệ",
                f"Mỗi lần xem tối đa {self.ctx.max_days} ngày.",
            )
        return first, last

    def _labels(self, group_by: str, rows: Sequence[FigureRow]) -> dict[str, str]:
        ctx = self.ctx
        labels: dict[str, str] = {}
        for row in rows:
            if group_by == "ward":
                labels[row.group] = row.name or ctx.ward_names.get(row.group, row.group)
            elif group_by == "agency":
                labels[row.group] = agency_label(row.group, ctx.agency_names)
            elif group_by == "category":
                labels[row.group] = ctx.category_names.get(row.group, row.group)
            else:
                labels[row.group] = CHANNEL_LABELS.get(row.group, row.group)
        return labels

    # ---------------------------------------------------------------- one report

    async def report(self, request: Request) -> Response:
        who = self.signed_in(request)
        if isinstance(who, Response):
            return who
        ref = request.path_params["ref"]
        if not _CODE_LIKE.match(ref):
            raise PageError(400, "Mã không hợp lệ", "Mã phản ánh hoặc mã tra cứu không hợp lệ.")
        records = await self.ctx.trail.records_of_report(ref)
        if not records:
            raise PageError(404, "Không tìm thấy", f"Không có phản ánh nào có mã {ref}.")
        folded = fold(records)
        if who.agency_id is not None and all(
            facts.lead_agency_id != who.agency_id for facts in folded.values()
        ):
            raise PageError(403, "Không có quyền", "Phản ánh này không do cơ quan của bạn chủ trì.")
        report_id = next((r["report_id"] for r in records if r.get("report_id")), None)
        facts: ReportFacts | None = folded.get(report_id) if report_id else None
        if facts is None and folded:
            facts = next(iter(folded.values()))
        proofs = await self._proofs(records)
        hidden = _pseudonyms(records)
        return self.render(
            "report.html",
            who=who,
            ref=ref,
            report_id=report_id,
            tracking_code=next(
                (r["tracking_code"] for r in records if r.get("tracking_code")), None
            ),
            facts=facts,
            now=self.ctx.clock(),
            records=[_record_view(record, hidden) for record in records],
            proofs=proofs,
            intact=all(proof.state != "broken" for proof in proofs),
            agency_names=self.ctx.agency_names,
            category_names=self.ctx.category_names,
            agency_label=agency_label,
        )

    async def _proofs(self, records: Sequence[Mapping[str, Any]]) -> list[ChainProof]:
        chains: dict[str, list[Mapping[str, Any]]] = {}
        for record in records:
            if isinstance(record.get("chain_id"), str) and isinstance(record.get("sequence"), int):
                chains.setdefault(record["chain_id"], []).append(record)
        proofs = []
        for chain_id, mine in sorted(chains.items()):
            sequences = [record["sequence"] for record in mine]
            recorded = [
                r["recorded_at"] for r in mine if isinstance(r.get("recorded_at"), datetime)
            ]
            signed = None
            if recorded:
                since = max(recorded)
                since = since if since.tzinfo else since.replace(tzinfo=UTC)
                checkpoints = await self.ctx.trail.checkpoints_since(since)
                signed = covering_head(
                    _verified_heads(checkpoints, chain_id, self.ctx.public_keys), max(sequences)
                )
            segment = await self.ctx.trail.chain_segment(
                chain_id,
                min(sequences),
                signed.sequence if signed else None,
                limit=SEGMENT_LIMIT,
            )
            proofs.append(prove_segment(chain_id, sequences, segment, signed))
        return proofs


def _verified_heads(
    checkpoints: Sequence[SignedCheckpoint | UnreadableCheckpoint],
    chain_id: str,
    public_keys: Mapping[str, Ed25519PublicKey],
) -> list[SignedHead]:
    heads: list[SignedHead] = []
    for checkpoint in checkpoints:
        if not isinstance(checkpoint, SignedCheckpoint):
            continue
        if signature_problem(checkpoint, public_keys) is not None:
            continue
        heads.extend(
            SignedHead(
                head.sequence, head.record_hash, checkpoint.checkpoint_id, checkpoint.created_at
            )
            for head in checkpoint.heads
            if head.chain_id == chain_id
        )
    return heads


def _pseudonyms(records: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    """The citizens' pseudonyms the records carry (reporter, recipient, actor)."""
    found: set[str] = set()
    for record in records:
        payload = record.get("payload")
        payload = payload if isinstance(payload, Mapping) else {}
        reporter = payload.get("reporter")
        actor = record.get("actor")
        candidates = [
            reporter.get("pseudonym") if isinstance(reporter, Mapping) else None,
            payload.get("recipient_pseudonym"),
            actor.get("id")
            if isinstance(actor, Mapping) and actor.get("kind") == "citizen"
            else None,
        ]
        found.update(c for c in candidates if isinstance(c, str) and len(c) >= 16)
    return frozenset(found)


def _record_view(record: Mapping[str, Any], pseudonyms: frozenset[str]) -> dict[str, Any]:
    payload = record.get("payload")
    shown = (
        {k: v for k, v in payload.items() if k not in _HIDDEN_PAYLOAD_KEYS}
        if isinstance(payload, Mapping)
        else payload
    )
    actor = record.get("actor") or {}
    occurred = record.get("occurred_at")
    return {
        "event_type": record.get("event_type"),
        "label": EVENT_LABELS.get(str(record.get("event_type")), str(record.get("event_type"))),
        "occurred_at": occurred if isinstance(occurred, datetime) else None,
        "actor": _actor_label(actor),
        "chain_id": record.get("chain_id"),
        "sequence": record.get("sequence"),
        "hash": str(record.get("hash") or ""),
        "valid": record.get("valid", True),
        "invalid_reason": record.get("invalid_reason"),
        "payload": _masked(
            json.dumps(shown, ensure_ascii=False, indent=1, sort_keys=True, default=str),
            pseudonyms,
        ),
    }


def _masked(text: str, pseudonyms: frozenset[str]) -> str:
    """``text`` with every citizen pseudonym replaced: the board shows no citizen."""
    for pseudonym in pseudonyms:
        text = text.replace(pseudonym, "[người dân]")
    return text


def _actor_label(actor: Any) -> str:
    """Who acted, in Vietnamese; a citizen is never named (not even by pseudonym)."""
    if not isinstance(actor, Mapping):
        return "không rõ"
    kind, who = str(actor.get("kind")), actor.get("id")
    if kind == "citizen":
        return "người dân"
    label = ACTOR_LABELS.get(kind, kind)
    return f"{label}: {who}" if who else label


def normalize_code(raw: str) -> str:
    """What the citizen typed, as a tracking code: NFKC, no spaces, uppercase."""
    return "".join(unicodedata.normalize("NFKC", raw).split()).upper()[:64]


def _role_of_key(role_keys: Mapping[str, str], presented: str) -> str | None:
    found = None
    encoded = presented.encode()
    for key, role in role_keys.items():  # every key is compared, in constant time
        if hmac.compare_digest(key.encode(), encoded) and found is None:
            found = role
    return found if presented else None


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a board path of this site, nothing else."""
    if (
        target
        and target.startswith(BOARD)
        and not target.startswith("//")
        and "\\" not in target
        and all(ch.isprintable() for ch in target)
    ):
        return target
    return BOARD


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _day(request: Request, name: str) -> date | None:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        if _DAY.match(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise PageError(400, "Ngày không hợp lệ", "Ngày phải có dạng năm-tháng-ngày, ví dụ 2023-03-31.")


def _param(request: Request, name: str, pattern: re.Pattern[str], what: str) -> str | None:
    value = request.query_params.get(name)
    if not value:
        return None
    if not pattern.match(value):
        raise PageError(400, "Bộ lọc không hợp lệ", f"Giá trị lọc theo {what} không hợp lệ.")
    return value
