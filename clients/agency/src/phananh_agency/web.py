"""The agency's web inbox: ``phananh-agency --agency ID web --port 8090``.

One process serves one agency's page, with that agency's own Kafka principal
(``PHANANH_KAFKA__*``, as ``phananh kafka credentials --agency ID`` prints it). It is a
thin adapter over ``AgencyClient`` and the domain: every page reads the inbox as the
command does, every form sends the update the command would send
(``AgencyClient.prepare`` then ``publish``), and every refusal is the command's, in
Vietnamese. Server-rendered (jinja2, autoescaped), no script, usable on a 375 px screen.

``GET /``
    Open tasks, overdue first then by deadline, and the tasks that recently left the inbox.
``GET /tasks/{ref}``
    One task (tracking code or report id): text, place, history, and the forms of the
    updates the agency may send about it (``domain.actions_for``).
``POST /tasks/{ref}/{command}``
    ``accept``, ``progress``, ``ask``, ``reject``, ``resolve``, ``reopen``, and the triage
    corrections ``recategorize``, ``replace``, ``out-of-scope``, ``link`` and ``unlink``
    (of a duplicate linked to the task, named by the field ``duplicate``): sends the
    update, then back to the task with a confirmation; a refused one comes back with the
    reason and what was typed.
``GET|POST /login``, ``POST /logout``
    Sign in with the agency page's password (``PHANANH_AGENCY_WEB_PASSWORD``) and,
    optionally, the officer's reference (sent as ``officer_ref``).

The session is a cookie signed with ``PHANANH_AGENCY_WEB_SESSION_SECRET`` (Starlette's
``SessionMiddleware``: HttpOnly, SameSite=Strict, Secure when configured), named after
the agency; every form carries the session's CSRF token. Sign-in attempts are limited
per client address. Every answer has ``Cache-Control: no-store`` and a
Content-Security-Policy allowing only this origin's stylesheet.

The agency's own updates in a task's history are those sent from this page since the
process started: an agency's principal may write its updates topic but not read it.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
import unicodedata
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from phananh_contracts import AgencyUpdate, AgencyUpdateKind
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from phananh_agency.cli import CORRECTION_COMMANDS, UPDATE_COMMANDS
from phananh_agency.client import AgencyClient
from phananh_agency.domain import (
    KIND_LABELS,
    ClosedTask,
    Inbox,
    LinkedDuplicate,
    Task,
    actions_for,
    local_time,
    new_update,
    task_history,
    work_order,
)
from phananh_agency.errors import AgencyClientError, NotInInbox, UpdateNotAllowed
from phananh_agency.settings import WebSettings
from phananh_agency.text import ROLE_LABELS, deadline_status, describe_place

logger = logging.getLogger("phananh_agency.web")

PACKAGE = Path(__file__).resolve().parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"
MAX_FORM_BYTES = 64 * 1024
"""A note may have 4,000 characters; percent-encoded Vietnamese takes up to 9 bytes each."""
CLOSED_SHOWN = 20
SENT_REPORTS_KEPT = 2_000

BUTTONS: Mapping[str, str] = {
    "accept": "Tiếp nhận",
    "progress": "Báo đang xử lý",
    "ask": "Hỏi người dân",
    "reject": "Từ chối, đề xuất đơn vị khác",
    "resolve": "Báo đã giải quyết",
    "reopen": "Mở lại",
    "recategorize": "Đổi lĩnh vực",
    "replace": "Đổi địa bàn",
    "out-of-scope": "Ngoài phạm vi",
    "link": "Gộp vào phản ánh khác",
    "unlink": "Tách khỏi phản ánh trùng",
}
"""The button of each command's form."""

NOTE_LABELS: Mapping[str, str] = {
    "accept": "Ghi chú",
    "progress": "Tiến độ (người dân sẽ được thông báo)",
    "ask": "Câu hỏi cho người dân",
    "reject": "Lý do từ chối (người dân sẽ được thông báo)",
    "resolve": "Kết quả giải quyết (người dân sẽ được thông báo)",
    "reopen": "Lý do mở lại",
    "recategorize": "Lý do đổi lĩnh vực (ghi vào nhật ký)",
    "replace": "Lý do đổi địa bàn (ghi vào nhật ký)",
    "out-of-scope": "Lý do, và nơi người dân có thể gửi (người dân sẽ được thông báo)",
    "link": "Lý do gộp (ghi vào nhật ký)",
    "unlink": "Lý do tách (ghi vào nhật ký)",
}
"""The label of each form's note (for a correction, its reason)."""

CORRECTION_FIELDS: Mapping[str, tuple[str, ...]] = {
    "recategorize": ("category",),
    "replace": ("ward", "group"),
    "link": ("to",),
    "unlink": ("duplicate",),
}
"""The fields a correction's form has besides its reason (the command's options)."""

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def _now() -> datetime:
    return datetime.now(UTC)


class PageError(Exception):
    """A request answered with an error page."""

    def __init__(self, status: int, title: str, message: str, kept: str = "") -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message
        self.kept = kept
        """What the officer typed and could not send, shown back so that nothing is lost."""


class SecureHeaders:
    """Adds the security headers to every answer (pages, redirects, the stylesheet)."""

    HEADERS = (
        (b"cache-control", b"no-store"),
        (b"content-security-policy", CSP.encode("ascii")),
        (b"referrer-policy", b"no-referrer"),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in self.HEADERS}
                headers = [h for h in message.get("headers", []) if h[0].lower() not in names]
                message["headers"] = [*headers, *self.HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SignInLimiter:
    """Sign-in attempts per client address in the last minute, in this process."""

    def __init__(
        self,
        per_minute: int,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = per_minute
        self.max_clients = max_clients
        self._clock = clock
        self._attempts: OrderedDict[str, deque[float]] = OrderedDict()

    def take(self, client: str) -> bool:
        """True when ``client`` may try now (the attempt is counted)."""
        now = self._clock()
        attempts = self._attempts.pop(client, deque())
        while attempts and attempts[0] <= now - 60:
            attempts.popleft()
        self._attempts[client] = attempts
        while len(self._attempts) > self.max_clients:
            self._attempts.popitem(last=False)
        if len(attempts) >= self.per_minute:
            return False
        attempts.append(now)
        return True


class SentUpdates:
    """The agency's updates sent from this page since the process started, per report
    (the history shows them; the agency's principal cannot read its updates topic)."""

    def __init__(self, max_reports: int = SENT_REPORTS_KEPT) -> None:
        self.max_reports = max_reports
        self._by_report: OrderedDict[str, list[AgencyUpdate]] = OrderedDict()

    def record(self, update: AgencyUpdate) -> None:
        updates = self._by_report.pop(update.report_id, [])
        updates.append(update)
        self._by_report[update.report_id] = updates
        while len(self._by_report) > self.max_reports:
            self._by_report.popitem(last=False)

    def of(self, report_id: str) -> tuple[AgencyUpdate, ...]:
        return tuple(self._by_report.get(report_id, ()))


@dataclass(frozen=True)
class FormProblem:
    """A form that was refused: which one, why, and what the officer typed."""

    command: str
    message: str
    status: int
    note: str = ""
    suggest: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)
    """A correction's other fields as typed (``category``, ``ward``, ``group``, ``to``,
    ``duplicate``)."""


def templates() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(ngay_gio=local_time)
    return environment


def create_web_app(
    client: AgencyClient,
    settings: WebSettings,
    *,
    clock: Callable[[], datetime] = _now,
) -> Starlette:
    """The agency's web inbox as an ASGI app (nothing is read before a page is asked)."""
    pages = _Pages(client, settings, clock)
    routes = [
        Route("/", pages.guarded(pages.inbox), methods=["GET"]),
        Route("/login", pages.guarded(pages.login_form), methods=["GET"]),
        Route("/login", pages.guarded(pages.login), methods=["POST"]),
        Route("/logout", pages.guarded(pages.logout), methods=["POST"]),
        Route("/tasks/{ref}", pages.guarded(pages.task), methods=["GET"]),
        Route("/tasks/{ref}/{command}", pages.guarded(pages.send), methods=["POST"]),
        Route("/healthz", _healthz, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [
        Middleware(SecureHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=settings.session_secret.get_secret_value(),
            session_cookie=session_cookie(client.agency_id),
            max_age=int(settings.session_hours * 3600),
            same_site="strict",
            https_only=settings.cookie_secure,
        ),
    ]
    return Starlette(routes=routes, middleware=middleware)


async def _healthz(_: Request) -> Response:
    """The process answers (for a container's health check); says nothing of the inbox."""
    return PlainTextResponse("ok")


def session_cookie(agency_id: str) -> str:
    """The session cookie's name: one per agency, since cookies ignore the port."""
    return f"phananh_agency_{agency_id}"


class _Pages:
    def __init__(
        self, client: AgencyClient, settings: WebSettings, clock: Callable[[], datetime]
    ) -> None:
        self.client = client
        self.agency_id = client.agency_id
        self.settings = settings
        self.clock = clock
        self.env = templates()
        self.logins = SignInLimiter(settings.login_attempts_per_minute)
        self.sent = SentUpdates()

    # ---------------------------------------------------------------- plumbing

    def guarded(self, handler: Callable[[Request], Awaitable[Response]]) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except PageError as error:
                return self.render(
                    request,
                    "error.html",
                    error.status,
                    title=error.title,
                    message=error.message,
                    kept=error.kept,
                )

        return endpoint

    def render(self, request: Request, name: str, status: int = 200, **values: Any) -> Response:
        session = request.session
        html = self.env.get_template(name).render(
            agency_id=self.agency_id,
            signed_in=self.signed_in(request),
            officer=session.get("officer"),
            csrf=self.csrf_token(request),
            flash=session.pop("flash", None),
            **values,
        )
        return HTMLResponse(unicodedata.normalize("NFC", html), status)

    def signed_in(self, request: Request) -> bool:
        return request.session.get("agency") == self.agency_id

    def csrf_token(self, request: Request) -> str:
        token = request.session.get("csrf")
        if not isinstance(token, str):
            token = request.session["csrf"] = secrets.token_urlsafe(32)
        return token

    async def form(self, request: Request) -> dict[str, str]:
        """The posted form (first value of each field, NFC), its CSRF token checked."""
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise PageError(413, "Nội dung quá lớn", "Nội dung gửi lên quá lớn.")
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        form = {name: unicodedata.normalize("NFC", values[0]) for name, values in fields.items()}
        expected = request.session.get("csrf")
        presented = form.get("csrf", "")
        if not isinstance(expected, str) or not hmac.compare_digest(
            expected.encode(), presented.encode()
        ):
            raise PageError(
                403,
                "Biểu mẫu đã hết hạn",
                "Biểu mẫu không hợp lệ hoặc phiên làm việc đã hết hạn. Xin tải lại trang "
                "và gửi lại.",
            )
        return form

    def to_login(self, request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)

    async def read_inbox(self) -> Inbox:
        try:
            return await self.client.inbox()
        except AgencyClientError as error:
            logger.warning("inbox of %s unreadable: %s", self.agency_id, error.message)
            raise PageError(503, "Không đọc được hộp thư", error.message) from None

    # ---------------------------------------------------------------- sign-in

    async def login_form(self, request: Request) -> Response:
        if self.signed_in(request):
            return RedirectResponse("/", status_code=303)
        return self.render(
            request, "login.html", next=_safe_next(request.query_params.get("next")), error=None
        )

    async def login(self, request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        if not self.logins.take(client):
            raise PageError(
                429,
                "Đăng nhập quá nhiều lần",
                "Đã thử đăng nhập quá nhiều lần. Xin chờ một phút rồi thử lại.",
            )
        form = await self.form(request)
        target = _safe_next(form.get("next"))
        officer = form.get("officer", "").strip()
        presented = form.get("password", "")
        expected = self.settings.password.get_secret_value()
        if not hmac.compare_digest(presented.encode(), expected.encode()):
            logger.info("sign-in refused for %s from %s", self.agency_id, client)
            return self.render(
                request,
                "login.html",
                401,
                next=target,
                officer_typed=officer,
                error="Mật khẩu không đúng.",
            )
        if officer:
            try:  # the contract's rule for officer_ref, checked once here
                new_update(self.agency_id, "draft", AgencyUpdateKind.ACCEPTED, officer_ref=officer)
            except UpdateNotAllowed as error:
                return self.render(
                    request,
                    "login.html",
                    400,
                    next=target,
                    officer_typed=officer,
                    error=error.message,
                )
        request.session.clear()  # a new session on every sign-in
        request.session.update(
            agency=self.agency_id,
            officer=officer or None,
            csrf=secrets.token_urlsafe(32),
            flash="Đã đăng nhập.",
        )
        return RedirectResponse(target, status_code=303)

    async def logout(self, request: Request) -> Response:
        await self.form(request)
        request.session.clear()
        request.session["flash"] = "Đã đăng xuất."
        return RedirectResponse("/login", status_code=303)

    # ---------------------------------------------------------------- pages

    async def inbox(self, request: Request) -> Response:
        if not self.signed_in(request):
            return self.to_login(request)
        inbox = await self.read_inbox()
        now = self.clock()
        tasks = work_order(inbox.open, now)
        return self.render(
            request,
            "inbox.html",
            tasks=[self.row(task, now) for task in tasks],
            overdue=sum(task.is_overdue(now) for task in tasks),
            closed=inbox.closed[:CLOSED_SHOWN],
            closed_count=len(inbox.closed),
            unreadable=inbox.unreadable,
        )

    async def task(self, request: Request) -> Response:
        if not self.signed_in(request):
            return self.to_login(request)
        inbox = await self.read_inbox()
        return self.task_page(request, inbox, request.path_params["ref"])

    def task_page(
        self, request: Request, inbox: Inbox, ref: str, problem: FormProblem | None = None
    ) -> Response:
        found = inbox.find(ref)
        if found is None:
            raise PageError(
                404,
                "Không có trong hộp thư",
                f"{ref[:64]} không có trong hộp thư của {self.agency_id}.",
            )
        now = self.clock()
        task = found if isinstance(found, Task) else found.task
        kinds = actions_for(found, triage_desk=self.settings.triage_desk)
        forms = [
            {
                "command": name,
                "button": BUTTONS[name],
                "label": KIND_LABELS[command.kind],
                "note_label": NOTE_LABELS[name],
                "note_required": command.note == "required",
                "suggest": command.kind == AgencyUpdateKind.REJECTED,
            }
            for name, command in UPDATE_COMMANDS.items()
            if command.kind in kinds
        ]
        corrections = [
            {
                "command": name,
                "button": BUTTONS[name],
                "note_label": NOTE_LABELS[name],
                "fields": CORRECTION_FIELDS.get(name, ()),
            }
            for name, correction in CORRECTION_COMMANDS.items()
            if correction.kind in kinds and correction.kind != AgencyUpdateKind.UNLINKED
        ]
        duplicates = inbox.duplicates_of(found.report_id)
        unlink = "unlink" if AgencyUpdateKind.UNLINKED in kinds and duplicates else None
        problem_at = "top"  # a form the page does not offer: the reason and the note alone
        if problem is not None:
            if problem.command in {form["command"] for form in forms}:
                problem_at = "updates"
            elif problem.command in {form["command"] for form in corrections}:
                problem_at = "corrections"
            elif problem.command == unlink and problem.fields.get("duplicate") in {
                duplicate.tracking_code for duplicate in duplicates
            }:
                problem_at = "duplicates"
        return self.render(
            request,
            "task.html",
            problem.status if problem else 200,
            entry=found,
            closed=isinstance(found, ClosedTask),
            task=task,
            row=self.row(task, now) if task else None,
            place=describe_place(task.place) if task else None,
            history=task_history(found, self.sent.of(found.report_id)),
            forms=forms,
            corrections=corrections,
            duplicates=duplicates,
            unlink=unlink,
            categories=_categories(inbox),
            problem=problem,
            problem_at=problem_at,
            typed=problem.fields if problem else {},
            ref=quote(found.tracking_code, safe=""),
        )

    @staticmethod
    def row(task: Task, now: datetime) -> dict[str, Any]:
        return {
            "task": task,
            "overdue": task.is_overdue(now),
            "status": deadline_status(task.deadline, now),
            "role": ROLE_LABELS[task.role],
            "ward": task.place.ward_name if task.place else None,
            "urgent": task.priority == "urgent",
        }

    # ---------------------------------------------------------------- updates

    async def send(self, request: Request) -> Response:
        if not self.signed_in(request):
            return self.to_login(request)
        form = await self.form(request)
        ref, name = request.path_params["ref"], request.path_params["command"]
        command = UPDATE_COMMANDS.get(name) or CORRECTION_COMMANDS.get(name)
        if command is None:
            raise PageError(404, "Không có thao tác này", f"Không có thao tác {name[:32]!r}.")
        note = form.get("note", "")
        suggest = (
            form.get("suggest", "").strip() if command.kind == AgencyUpdateKind.REJECTED else ""
        )
        fields = {key: form.get(key, "").strip() for key in CORRECTION_FIELDS.get(name, ())}
        about = ref  # unlinking is about the duplicate, shown on its original's page
        if command.kind == AgencyUpdateKind.UNLINKED:
            about = fields["duplicate"]
            if not about:
                raise PageError(400, "Chưa gửi được", "Chưa chọn phản ánh trùng.", kept=note)
        try:
            target, update = await self.client.prepare(
                about,
                command.kind,
                note=note,
                suggested_agency_id=suggest or None,
                officer_ref=request.session.get("officer"),
                category=fields.get("category") or None,
                ward_code=fields.get("ward") or None,
                residential_group=fields.get("group") or None,
                link_to=fields.get("to") or None,
                triage_desk=self.settings.triage_desk,
            )
            await self.client.publish(update)
        except AgencyClientError as error:  # refused by the checks, or Kafka trouble
            missing = isinstance(error, NotInInbox)
            status = 404 if missing else 400 if isinstance(error, UpdateNotAllowed) else 503
            problem = FormProblem(
                name, error.message, status, note=note, suggest=suggest, fields=fields
            )
            try:
                inbox = await self.client.inbox()
            except AgencyClientError:
                raise PageError(status, "Chưa gửi được", error.message, kept=note) from None
            found = inbox.find(ref)
            if missing and (  # the form is not on the task's page: its note shown alone
                found is None
                or command.kind not in actions_for(found, triage_desk=self.settings.triage_desk)
            ):
                raise PageError(404, "Không có trong hộp thư", error.message, kept=note) from None
            return self.task_page(request, inbox, ref, problem)
        self.sent.record(update.data)
        logger.info(
            "%s sent %s for %s (event %s)",
            self.agency_id,
            command.kind.value,
            target.tracking_code,
            update.id,
        )
        request.session["flash"] = (
            f"Đã gửi «{KIND_LABELS[command.kind]}» cho {target.tracking_code}. "
            "Hệ thống sẽ cập nhật hộp thư sau khi tiếp nhận."
        )
        back = target.original_tracking_code if isinstance(target, LinkedDuplicate) else None
        page = back or target.tracking_code
        return RedirectResponse(f"/tasks/{quote(page, safe='')}", status_code=303)


def _categories(inbox: Inbox) -> list[str]:
    """Category codes seen on the agency's tasks, suggested when re-categorising (the
    client shares only the contracts with the platform: the city's list is not known)."""
    tasks = [*inbox.open, *(gone.task for gone in inbox.closed if gone.task is not None)]
    return sorted({task.category for task in tasks})


def _safe_next(value: str | None) -> str:
    """A local path to go back to after signing in; ``/`` for anything else."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
