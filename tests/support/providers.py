"""Real local servers standing in for the providers: an HTTP server and an SMTP server.

Both listen on 127.0.0.1 on a free port, over real sockets; the test decides what they
answer and reads what they received, as a provider's operator would see it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Reply:
    """What the HTTP server answers to one request."""

    status: int = 200
    body: dict[str, Any] | None = None
    delay_s: float = 0.0


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class ProviderServer:
    """An HTTP/1.1 server (keep-alive, JSON) that answers from a script.

    ``reply(...)`` queues answers for the next requests (to one path, or any); once the
    queue is empty a request gets its path's ``answer(...)``, else ``default``.
    """

    default: Reply = field(default_factory=lambda: Reply(200, {"error": 0, "data": {}}))
    requests: list[Received] = field(default_factory=list)
    _script: list[Reply] = field(default_factory=list)
    _scripts: dict[str, list[Reply]] = field(default_factory=dict)
    _answers: dict[str, Reply] = field(default_factory=dict)
    _server: asyncio.AbstractServer | None = None
    port: int = 0

    def reply(self, *replies: Reply, path: str | None = None) -> None:
        if path is None:
            self._script.extend(replies)
        else:
            self._scripts.setdefault(path, []).extend(replies)

    def answer(self, path: str, reply: Reply) -> None:
        """From now on, ``path`` gets ``reply`` (after any queued replies)."""
        self._answers[path] = reply

    def _next(self, path: str) -> Reply:
        if self._scripts.get(path):
            return self._scripts[path].pop(0)
        if self._script:
            return self._script.pop(0)
        return self._answers.get(path, self.default)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[Received]:
        return [request for request in self.requests if request.path == path]

    async def __aenter__(self) -> ProviderServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                body = json.loads(raw) if raw else None
                self.requests.append(Received(method, target, headers, body))
                answer = self._next(target)
                if answer.delay_s:
                    await asyncio.sleep(answer.delay_s)
                payload = json.dumps(answer.body or {}).encode()
                writer.write(
                    f"HTTP/1.1 {answer.status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def refused_url(path: str = "/") -> str:
    """A URL on a port where nothing listens: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


@dataclass
class _MailHandler:
    refuse: Callable[[str], tuple[int, str] | None]
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    sessions: int = 0
    """SMTP sessions the server greeted (EHLO or HELO)."""

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self.refuse(address)
        if refusal is not None:
            return f"{refusal[0]} {refusal[1]}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class MailServer:
    """A real SMTP server (aiosmtpd) on a free port; refuses recipients on demand."""

    def __init__(self, refuse: Callable[[str], tuple[int, str] | None] = lambda _: None):
        self.handler = _MailHandler(refuse)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    @property
    def sessions(self) -> int:
        """SMTP sessions opened by clients so far."""
        return self.handler.sessions

    def restart(self) -> None:
        """Stop and start again on the same port: every open session is dropped."""
        self.controller.stop()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def __enter__(self) -> MailServer:
        self.controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.controller.stop()
