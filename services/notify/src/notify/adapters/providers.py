"""Providers: one interface, one adapter per way of reaching a citizen.

Every provider takes an :class:`OutgoingMessage` (the opened contact, the rendered
texts, the notification's idempotency key) and answers with an
:class:`~notify.domain.delivery.AttemptResult`; it never raises for a delivery problem.
Reasons are masked (``mask_contacts``) and short: they end up in events and logs.

HTTP shapes (see docs/notify.md for full examples):

* ``app_push``  POST JSON ``{notification_id, recipient: {phone}, title, body, data}``,
  ``Authorization: Bearer <token>``, ``Idempotency-Key: <notification id>``;
* ``zalo_oa``   Zalo OA API v3 ``/oa/message/cs``: header ``access_token``, JSON
  ``{recipient: {user_id}, message: {text}}``, answer ``{error: 0, data: {message_id}}``;
* ``zalo_zns``  ZNS ``/message/template``: header ``access_token``, JSON ``{phone,
  template_id, template_data, tracking_id}``, answer ``{error: 0, data: {msg_id}}``;
* ``sms_http``  POST JSON ``{to, from, text, client_ref}``, ``Authorization: Bearer``;
* ``facebook``  Graph Send API: ``Authorization: Bearer <page token>``, JSON
  ``{recipient: {id}, messaging_type, tag, message: {text}}``, errors ``{error: {code}}``;
* ``smtp``      a text/plain UTF-8 email with a Message-ID derived from the notification.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import smtplib
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate
from typing import Any, Protocol

import aiohttp
from phananh_platform.privacy import SealedContact, mask_contacts
from pydantic import SecretStr

from notify.adapters.templates import RenderedMessage
from notify.config import (
    AppPushProvider,
    FacebookProvider,
    NotifyConfig,
    ProviderConfig,
    SmsHttpProvider,
    SmtpProvider,
    ZaloOaProvider,
    ZaloZnsProvider,
)
from notify.domain.delivery import (
    AttemptResult,
    Verdict,
    error_code_verdict,
    http_verdict,
    smtp_verdict,
)
from notify.domain.text import fit_sms, strip_diacritics

TEXT_LIMIT = 2000
"""Longest text sent to chat channels (Zalo and Messenger cut at 2000 characters)."""


@dataclass(frozen=True)
class OutgoingMessage:
    """One message for one citizen, ready for any provider."""

    notification_id: str
    template_id: str
    tracking_code: str | None
    rendered: RenderedMessage
    contact: SealedContact

    @property
    def delivery_ref(self) -> str:
        """A short, stable reference of the notification for providers' own
        idempotency fields (ZNS ``tracking_id``, SMS ``client_ref``, Message-ID)."""
        return hashlib.sha256(self.notification_id.encode()).hexdigest()[:32]


class Provider(Protocol):
    """Anything that can carry a message to a citizen."""

    @property
    def id(self) -> str: ...

    @property
    def channel(self) -> str: ...

    async def send(self, message: OutgoingMessage) -> AttemptResult: ...


def _reason(text: str, limit: int = 300) -> str:
    """A provider's words, safe for events and logs: contacts masked, one line, short."""
    return " ".join(mask_contacts(text).split())[:limit] or "no detail"


def _chat_text(rendered: RenderedMessage) -> str:
    text = rendered.text
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


@dataclass(frozen=True)
class HttpAnswer:
    """A provider's HTTP answer, read whole (they are small)."""

    status_code: int
    text: str
    reason_phrase: str

    def json(self) -> Any:
        return json.loads(self.text)


class HttpClient:
    """The HTTP connections every HTTP provider shares (aiohttp, pooled per host).

    aiohttp rather than httpx: under load httpx's connection pool scans every connection
    on each request, which took ~40 % of notify's CPU in the pipeline benchmark. The
    session is opened on first use, inside the running event loop.
    """

    def __init__(self, *, connections: int = 100) -> None:
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def post(
        self, url: str, payload: Mapping[str, Any], headers: Mapping[str, str], timeout_s: float
    ) -> HttpAnswer:
        """POST ``payload`` as JSON; raises ``TimeoutError`` or ``aiohttp.ClientError``."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections),
                json_serialize=lambda value: json.dumps(value, ensure_ascii=False),
            )
        async with self._session.post(
            url,
            json=payload,
            headers=dict(headers),
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            allow_redirects=False,
        ) as response:
            body = await response.read()
            return HttpAnswer(
                response.status, body.decode("utf-8", "replace"), response.reason or ""
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class _HttpProvider:
    """Shared by the HTTP providers: one POST, its failures classified."""

    def __init__(self, config: ProviderConfig, client: HttpClient) -> None:
        self.config = config
        self.client = client

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def channel(self) -> str:
        return self.config.channel

    async def post(
        self, url: str, payload: Mapping[str, Any], headers: Mapping[str, str]
    ) -> HttpAnswer | AttemptResult:
        """The answer, or the transient result of a transport failure."""
        try:
            return await self.client.post(url, payload, headers, self.config.timeout_s)
        except TimeoutError:
            return AttemptResult.transient(f"no answer within {self.config.timeout_s:g}s")
        except aiohttp.ClientConnectorError as error:
            return AttemptResult.transient(f"cannot connect: {_reason(str(error), 120)}")
        except aiohttp.ClientError as error:
            return AttemptResult.transient(f"{type(error).__name__}: {_reason(str(error), 120)}")

    @staticmethod
    def status_result(response: HttpAnswer) -> AttemptResult:
        verdict = http_verdict(response.status_code)
        if verdict == Verdict.ACCEPTED:
            return AttemptResult.accepted()
        detail = _reason(response.text, 200) if response.text else response.reason_phrase
        return AttemptResult(verdict, f"HTTP {response.status_code}: {detail}")

    @staticmethod
    def json_of(response: HttpAnswer) -> dict[str, Any] | None:
        try:
            body = response.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None


class AppPush(_HttpProvider):
    config: AppPushProvider

    def __init__(self, config: AppPushProvider, client: HttpClient, token: str) -> None:
        super().__init__(config, client)
        self.token = token

    async def send(self, message: OutgoingMessage) -> AttemptResult:
        contact = message.contact
        payload = {
            "notification_id": message.notification_id,
            "recipient": {"phone": contact.phone, "user_ref": contact.channel_user_ref},
            "title": message.rendered.subject,
            "body": message.rendered.text,
            "data": {"tracking_code": message.tracking_code, "template_id": message.template_id},
        }
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Idempotency-Key": message.notification_id,
        }
        response = await self.post(str(self.config.url), payload, headers)
        if isinstance(response, AttemptResult):
            return response
        result = self.status_result(response)
        if result.verdict == Verdict.ACCEPTED:
            body = self.json_of(response) or {}
            reference = body.get("id")
            return AttemptResult.accepted(str(reference) if reference is not None else None)
        return result


class _ZaloProvider(_HttpProvider):
    config: ZaloOaProvider | ZaloZnsProvider

    def __init__(
        self, config: ZaloOaProvider | ZaloZnsProvider, client: HttpClient, token: str
    ) -> None:
        super().__init__(config, client)
        self.token = token

    def zalo_result(self, response: HttpAnswer, id_field: str) -> AttemptResult:
        result = self.status_result(response)
        if result.verdict != Verdict.ACCEPTED:
            return result
        body = self.json_of(response)
        if body is None or not isinstance(body.get("error"), int):
            return AttemptResult.transient("Zalo answered without an error code")
        code = body["error"]
        verdict = error_code_verdict(code, self.config.retryable_error_codes)
        if verdict == Verdict.ACCEPTED:
            data = body.get("data") if isinstance(body.get("data"), dict) else {}
            reference = data.get(id_field) if data else None
            return AttemptResult.accepted(str(reference) if reference is not None else None)
        return AttemptResult(
            verdict, f"Zalo error {code}: {_reason(str(body.get('message', '')), 200)}"
        )


class ZaloOa(_ZaloProvider):
    async def send(self, message: OutgoingMessage) -> AttemptResult:
        payload = {
            "recipient": {"user_id": message.contact.channel_user_ref},
            "message": {"text": _chat_text(message.rendered)},
        }
        response = await self.post(str(self.config.url), payload, {"access_token": self.token})
        if isinstance(response, AttemptResult):
            return response
        return self.zalo_result(response, "message_id")


class ZaloZns(_ZaloProvider):
    config: ZaloZnsProvider

    async def send(self, message: OutgoingMessage) -> AttemptResult:
        phone = (message.contact.phone or "").removeprefix("+")
        text = message.rendered.short
        limit = self.config.message_max_chars
        payload = {
            "phone": phone,
            "template_id": self.config.template_id,
            "template_data": {
                self.config.tracking_code_param: message.tracking_code or "",
                self.config.message_param: text if len(text) <= limit else text[: limit - 1] + "…",
            },
            "tracking_id": message.delivery_ref,
        }
        response = await self.post(str(self.config.url), payload, {"access_token": self.token})
        if isinstance(response, AttemptResult):
            return response
        return self.zalo_result(response, "msg_id")


class SmsGateway(_HttpProvider):
    config: SmsHttpProvider

    def __init__(self, config: SmsHttpProvider, client: HttpClient, token: str) -> None:
        super().__init__(config, client)
        self.token = token

    def text_of(self, rendered: RenderedMessage) -> str:
        text = rendered.short
        if self.config.ascii_only:
            text = strip_diacritics(text)
        return fit_sms(text, self.config.max_segments)

    async def send(self, message: OutgoingMessage) -> AttemptResult:
        payload = {
            "to": message.contact.phone,
            "from": self.config.sender,
            "text": self.text_of(message.rendered),
            "client_ref": message.delivery_ref,
        }
        response = await self.post(
            str(self.config.url), payload, {"Authorization": f"Bearer {self.token}"}
        )
        if isinstance(response, AttemptResult):
            return response
        result = self.status_result(response)
        if result.verdict == Verdict.ACCEPTED:
            reference = (self.json_of(response) or {}).get("message_id")
            return AttemptResult.accepted(str(reference) if reference is not None else None)
        return result


class FacebookSend(_HttpProvider):
    config: FacebookProvider

    def __init__(self, config: FacebookProvider, client: HttpClient, token: str) -> None:
        super().__init__(config, client)
        self.token = token

    async def send(self, message: OutgoingMessage) -> AttemptResult:
        payload: dict[str, Any] = {
            "recipient": {"id": message.contact.channel_user_ref},
            "messaging_type": self.config.messaging_type,
            "message": {"text": _chat_text(message.rendered)},
        }
        if self.config.messaging_type == "MESSAGE_TAG" and self.config.tag:
            payload["tag"] = self.config.tag
        response = await self.post(
            str(self.config.url), payload, {"Authorization": f"Bearer {self.token}"}
        )
        if isinstance(response, AttemptResult):
            return response
        body = self.json_of(response) or {}
        if 200 <= response.status_code < 300:
            reference = body.get("message_id")
            return AttemptResult.accepted(str(reference) if reference is not None else None)
        error = body.get("error") if isinstance(body.get("error"), dict) else None
        if error is not None and isinstance(error.get("code"), int):
            code = error["code"]
            verdict = error_code_verdict(code, self.config.retryable_error_codes)
            if response.status_code >= 500:
                verdict = Verdict.TRANSIENT
            detail = _reason(str(error.get("message", "")), 200)
            return AttemptResult(
                verdict, f"Graph error {code} (HTTP {response.status_code}): {detail}"
            )
        return self.status_result(response)


SMTP_IDLE_S = 30.0
"""An idle SMTP session older than this is closed instead of used again (mail servers
close idle sessions after a minute or more)."""
SMTP_IDLE_KEPT = 8
"""Idle SMTP sessions kept open for the next messages at most."""


class SmtpMail:
    """Email through SMTP (stdlib ``smtplib``, run in a worker thread).

    A session that delivered a message is kept open for the next one (up to
    :data:`SMTP_IDLE_KEPT` of them, each for :data:`SMTP_IDLE_S`): a message then costs
    MAIL, RCPT and DATA instead of a new connection, its TLS handshake, EHLO, the login
    and QUIT. A kept session is asked NOOP before it is used; one that does not answer is
    closed and a new one opened, so no message is ever sent twice because a kept session
    had gone stale. A session that saw a refusal or an error is closed.
    """

    def __init__(self, config: SmtpProvider, password: str | None) -> None:
        self.config = config
        self.password = password
        self._idle: list[tuple[smtplib.SMTP, float]] = []
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def channel(self) -> str:
        return self.config.channel

    def email_of(self, message: OutgoingMessage) -> Message:
        """The e-mail, built with the classic (compat32) message class: the modern one
        parses every header it is given back into objects, which cost more than the rest
        of a notification; non-ASCII headers are encoded (RFC 2047) explicitly instead."""
        config = self.config
        email = MIMEText(message.rendered.text, "plain", "utf-8")
        email["From"] = formataddr((config.from_name, config.from_address), charset="utf-8")
        email["To"] = message.contact.email or ""
        email["Subject"] = Header(message.rendered.subject, "utf-8", header_name="Subject").encode()
        email["Date"] = formatdate(localtime=False, usegmt=True)
        # The same notification always has the same Message-ID: a resend after a crash
        # is recognisably the same message to mail systems that deduplicate.
        email["Message-ID"] = f"<{message.delivery_ref}@{config.message_id_domain}>"
        email["Auto-Submitted"] = "auto-generated"
        return email

    async def send(self, message: OutgoingMessage) -> AttemptResult:
        email = self.email_of(message)
        return await asyncio.to_thread(self._send, email)

    def close(self) -> None:
        """Close the sessions kept open."""
        with self._lock:
            idle, self._idle = self._idle, []
        for smtp, _ in idle:
            _quit(smtp)

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        smtp: smtplib.SMTP
        if config.security == "tls":
            smtp = smtplib.SMTP_SSL(
                config.host,
                config.port,
                timeout=config.timeout_s,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
        try:
            if config.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if config.username and self.password:
                smtp.login(config.username, self.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _session(self) -> smtplib.SMTP:
        """A kept session that still answers, or a new one."""
        while True:
            with self._lock:
                if not self._idle:
                    break
                smtp, since = self._idle.pop()
            if time.monotonic() - since >= SMTP_IDLE_S:
                smtp.close()
                continue
            try:
                if smtp.noop()[0] == 250:
                    return smtp
            except (smtplib.SMTPException, OSError):
                pass
            smtp.close()
        return self._connect()

    def _keep(self, smtp: smtplib.SMTP) -> None:
        with self._lock:
            if len(self._idle) < SMTP_IDLE_KEPT:
                self._idle.append((smtp, time.monotonic()))
                return
        _quit(smtp)

    def _send(self, email: Message) -> AttemptResult:
        config = self.config
        smtp: smtplib.SMTP | None = None
        try:
            smtp = self._session()
            smtp.send_message(email)
            self._keep(smtp)
            smtp = None
        except smtplib.SMTPRecipientsRefused as refused:
            codes = [code for code, _ in refused.recipients.values()]
            code = codes[0] if codes else 550
            return AttemptResult(smtp_verdict(code), f"SMTP {code}: recipient refused")
        except smtplib.SMTPResponseException as error:
            raw = error.smtp_error
            detail = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            return AttemptResult(
                smtp_verdict(error.smtp_code), f"SMTP {error.smtp_code}: {_reason(detail, 200)}"
            )
        except smtplib.SMTPServerDisconnected as error:
            return AttemptResult.transient(f"SMTP server disconnected: {_reason(str(error), 120)}")
        except TimeoutError:
            return AttemptResult.transient(f"no answer within {config.timeout_s:g}s")
        except (ConnectionError, OSError) as error:
            return AttemptResult.transient(f"cannot connect: {_reason(str(error), 120)}")
        except smtplib.SMTPException as error:
            return AttemptResult.permanent(f"{type(error).__name__}: {_reason(str(error), 200)}")
        finally:
            if smtp is not None:  # not kept: a refusal or an error
                smtp.close()
        return AttemptResult.accepted(str(email["Message-ID"]))


def _quit(smtp: smtplib.SMTP) -> None:
    """End a session politely if the server still listens, and close it in any case."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()


def build_providers(
    config: NotifyConfig, secrets: Mapping[str, SecretStr], client: HttpClient
) -> tuple[dict[str, Provider], list[str]]:
    """The enabled providers that have what they need, and the ids of those left out
    because their secret is missing (the caller logs them once logging is set up)."""
    providers: dict[str, Provider] = {}
    missing: list[str] = []
    for provider in config.providers:
        if not provider.enabled:
            continue
        secret = secrets.get(provider.id)
        token = secret.get_secret_value() if secret is not None else None
        if provider.needs_secret and not token:
            missing.append(provider.id)
            continue
        providers[provider.id] = _build(provider, token, client)
    return providers, missing


def _build(provider: ProviderConfig, token: str | None, client: HttpClient) -> Provider:
    match provider:
        case AppPushProvider():
            return AppPush(provider, client, token or "")
        case ZaloOaProvider():
            return ZaloOa(provider, client, token or "")
        case ZaloZnsProvider():
            return ZaloZns(provider, client, token or "")
        case SmsHttpProvider():
            return SmsGateway(provider, client, token or "")
        case FacebookProvider():
            return FacebookSend(provider, client, token or "")
        case SmtpProvider():
            return SmtpMail(provider, token)
    raise TypeError(f"unknown provider kind {provider!r}")
