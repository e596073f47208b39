"""Oversight read API over HTTP: a report's trail, figures by period, ward summaries.

Routes (``oversight_routes``), all ``GET`` under ``/oversight/v1``:

``/reports/{ref}/trail``
    The trail records of one report, by tracking code or report id (404 when unknown).
``/figures?from=YYYY-MM-DD&to=YYYY-MM-DD&group_by=…&format=json|csv``
    Figures of the reports received in the period (``audit.domain.figures``). ``group_by``
    is one of all (default), ward, agency, category or channel.
``/wards/{ward_code}/summary?from=…&to=…``
    The seed's sentence for a ward in Vietnamese and English, with the ward's figures.
``/escalations?from=…&to=…``
    Who escalated what: each step up the escalation ladder of the reports received in the
    period (``audit.domain.board.escalated_reports``), the latest first: the report, the
    agency that missed its deadline and its level, the agency and level it went to, when,
    and who leads the report now.

Dates are local days (Asia/Ho_Chi_Minh) and ``to`` is inclusive. A period is at most
``max_days`` long (366 by default).

Every request carries an API key, as ``Authorization: Bearer <key>`` or ``X-Api-Key``,
which names a role:

``leadership[:<who>]`` and ``auditor[:<who>]``
    May read everything.
``agency:<agency id>``
    May read the trail of reports its agency leads (the lead of the latest assignment),
    and figures of those reports only. Ward summaries describe a whole ward, so an agency
    cannot read them.

401 (with ``WWW-Authenticate``) answers a missing or unknown key, and 403 a role that may
not read what it asked for. Errors are ``{"error": {"code": …, "message": …}}``. Answers
are not cached (``Cache-Control: no-store``).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Protocol, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from audit.domain.board import escalated_reports
from audit.domain.facts import ReportFacts, fold
from audit.domain.figures import (
    GROUP_BYS,
    GroupBy,
    compute_figures,
    period_of,
    to_csv,
    ward_sentence,
    ward_sentence_en,
)

PREFIX = "/oversight/v1"
ROLES = ("leadership", "auditor", "agency")
MIN_KEY_LENGTH = 16
TIMEZONE = "Asia/Ho_Chi_Minh"
RECORD_FIELDS = (
    "chain_id",
    "sequence",
    "event_id",
    "event_type",
    "occurred_at",
    "recorded_at",
    "actor",
    "payload",
    "valid",
    "invalid_reason",
    "prev_hash",
    "hash",
)
"""Fields of a trail record shown by the trail endpoint, in this order, when present."""

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WARD_CODE = re.compile(r"^\d{5}$")
_REF = re.compile(r"^\S{1,128}$")


class TrailReader(Protocol):
    """The trail, as the oversight API reads it (implemented over audit's trail store)."""

    async def records_of_report(self, ref: str) -> Sequence[Mapping[str, Any]]:
        """Trail records of the report with this report id or tracking code, in chain
        order (documents with the fields of ``TrailRecord``); empty when unknown."""
        ...


class FactsReader(Protocol):
    """The read model, as the figures read it (implemented by ``FactsStore``)."""

    async def facts_received_between(
        self,
        start: datetime,
        end: datetime,
        *,
        lead_agency_id: str | None = None,
        ward_code: str | None = None,
    ) -> list[ReportFacts]: ...


@dataclass(frozen=True)
class Principal:
    """Who is asking: the role name their key was issued for."""

    name: str
    role: str
    agency_id: str | None = None

    @classmethod
    def of(cls, name: str) -> Principal:
        """The principal of a role name, or ValueError for a name that grants nothing."""
        role, _, holder = name.partition(":")
        if role not in ROLES or (role == "agency" and not holder):
            raise ValueError(
                f"unknown oversight role {name!r}: use 'leadership[:<who>]', "
                "'auditor[:<who>]' or 'agency:<agency id>'"
            )
        return cls(name, role, holder if role == "agency" else None)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OversightContext:
    """What the oversight routes need, built once by the composition root."""

    facts: FactsReader
    trail: TrailReader
    role_keys: Mapping[str, str]
    """API key -> role name, e.g. {'k3y…': 'leadership:thanh-uy'}; keys are checked in
    constant time, names when the context is made (ValueError for an unknown role)."""
    clock: Callable[[], datetime] = _now
    ward_names: Mapping[str, str] = field(default_factory=dict)
    """Ward code -> name, for summaries of wards without reports in the period; the name
    the reports give is used otherwise."""
    max_days: int = 366

    def __post_init__(self) -> None:
        for key, name in self.role_keys.items():
            Principal.of(name)
            if len(key) < MIN_KEY_LENGTH:
                raise ValueError(f"the API key of {name!r} is shorter than {MIN_KEY_LENGTH}")


class HttpError(Exception):
    """A request refused with ``status``, answered as a JSON error."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


Handler = Callable[[Request, OversightContext, Principal], Awaitable[Response]]


def oversight_routes(ctx: OversightContext) -> list[BaseRoute]:
    """The routes of the oversight API, to add to the service's HTTP app."""

    def route(path: str, handler: Handler) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                response = await handler(request, ctx, authenticate(request, ctx))
            except HttpError as error:
                body = {"error": {"code": error.code, "message": error.message}}
                response = JSONResponse(body, error.status, headers=error.headers)
            response.headers["Cache-Control"] = "no-store"
            return response

        return Route(f"{PREFIX}{path}", endpoint, methods=["GET"])

    return [
        route("/reports/{ref}/trail", report_trail),
        route("/figures", figures),
        route("/wards/{ward_code}/summary", ward_summary),
        route("/escalations", escalations),
    ]


def authenticate(request: Request, ctx: OversightContext) -> Principal:
    """The principal of the request's API key, or 401."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    bearer = credentials.strip() if scheme.lower() == "bearer" else ""
    presented = (bearer or request.headers.get("x-api-key", "").strip()).encode()
    found = None
    for key, name in ctx.role_keys.items():  # every key is compared, in constant time
        if hmac.compare_digest(key.encode(), presented) and found is None:
            found = name
    if not presented or found is None:
        raise HttpError(
            401,
            "unauthorized",
            "a valid API key is required (Authorization: Bearer <key> or X-Api-Key)",
            {"WWW-Authenticate": 'Bearer realm="phananh-oversight"'},
        )
    return Principal.of(found)


async def report_trail(request: Request, ctx: OversightContext, who: Principal) -> Response:
    ref = request.path_params["ref"]
    if not _REF.match(ref):
        raise HttpError(400, "invalid_ref", "ref is a tracking code or a report id")
    records = await ctx.trail.records_of_report(ref)
    if not records:
        raise HttpError(404, "not_found", f"no report has the tracking code or id {ref!r}")
    if who.agency_id is not None and all(
        facts.lead_agency_id != who.agency_id for facts in fold(records).values()
    ):
        raise HttpError(403, "forbidden", "this report is not led by your agency")
    return JSONResponse(
        {
            "ref": ref,
            "report_id": next((r["report_id"] for r in records if r.get("report_id")), None),
            "tracking_code": next(
                (r["tracking_code"] for r in records if r.get("tracking_code")), None
            ),
            "records": [
                {name: _jsonable(record[name]) for name in RECORD_FIELDS if name in record}
                for record in records
            ],
        }
    )


async def figures(request: Request, ctx: OversightContext, who: Principal) -> Response:
    first, last = _days(request, ctx)
    group_by = _group_by(request)
    output = _choice(request, "format", ("json", "csv"), "json")
    start, end = period_of(first, last)
    facts = await ctx.facts.facts_received_between(start, end, lead_agency_id=who.agency_id)
    now = ctx.clock()
    rows = compute_figures(facts, start, end, now, group_by)
    if output == "csv":
        filename = f"pakn-figures-{first}-{last}-{group_by}.csv"
        return Response(
            ("\ufeff" + to_csv(rows)).encode("utf-8"),  # the BOM tells Excel it is UTF-8
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    (total,) = compute_figures(facts, start, end, now)
    return JSONResponse(
        {
            **_period_json(first, last, now),
            "scope": f"agency:{who.agency_id}" if who.agency_id else "city",
            "group_by": group_by,
            "rows": [asdict(row) for row in rows],
            "total": asdict(total),
        }
    )


async def ward_summary(request: Request, ctx: OversightContext, who: Principal) -> Response:
    if who.agency_id is not None:
        raise HttpError(403, "forbidden", "ward summaries are for leadership and auditors")
    ward_code = request.path_params["ward_code"]
    if not _WARD_CODE.match(ward_code):
        raise HttpError(400, "invalid_ward_code", "ward_code is the 5-digit official code")
    first, last = _days(request, ctx)
    start, end = period_of(first, last)
    facts = await ctx.facts.facts_received_between(start, end, ward_code=ward_code)
    name = ctx.ward_names.get(ward_code) or next((f.ward_name for f in facts if f.ward_name), None)
    if name is None:
        raise HttpError(404, "unknown_ward", f"no ward {ward_code} is known in this period")
    now = ctx.clock()
    (row,) = compute_figures(facts, start, end, now)
    row = replace(row, group=ward_code, name=name)
    return JSONResponse(
        {
            **_period_json(first, last, now),
            "ward_code": ward_code,
            "ward_name": name,
            "sentence_vi": ward_sentence(row, name, start, end),
            "sentence_en": ward_sentence_en(row, name, start, end),
            "figures": asdict(row),
        }
    )


async def escalations(request: Request, ctx: OversightContext, who: Principal) -> Response:
    first, last = _days(request, ctx)
    start, end = period_of(first, last)
    facts = await ctx.facts.facts_received_between(start, end, lead_agency_id=who.agency_id)
    steps = escalated_reports(facts)
    return JSONResponse(
        {
            **_period_json(first, last, ctx.clock()),
            "scope": f"agency:{who.agency_id}" if who.agency_id else "city",
            "count": len(steps),
            "escalations": [_jsonable(step) for step in steps],
        }
    )


def _days(request: Request, ctx: OversightContext) -> tuple[date, date]:
    first, last = _day(request, "from"), _day(request, "to")
    if last < first:
        raise HttpError(400, "invalid_period", "'to' must not be before 'from'")
    if (last - first).days + 1 > ctx.max_days:
        raise HttpError(400, "invalid_period", f"a period is at most {ctx.max_days} days")
    return first, last


def _day(request: Request, name: str) -> date:
    value = request.query_params.get(name)
    if value is None:
        raise HttpError(400, "invalid_period", f"'{name}' is required (YYYY-MM-DD)")
    try:
        if _DAY.match(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise HttpError(400, "invalid_period", f"'{name}' must be a date YYYY-MM-DD, not {value!r}")


def _group_by(request: Request) -> GroupBy:
    return cast(GroupBy, _choice(request, "group_by", GROUP_BYS, "all"))


def _choice(request: Request, name: str, choices: Sequence[str], default: str) -> str:
    value = request.query_params.get(name, default)
    if value not in choices:
        raise HttpError(400, f"invalid_{name}", f"'{name}' must be one of {', '.join(choices)}")
    return value


def _period_json(first: date, last: date, now: datetime) -> dict[str, Any]:
    period = {"from": first.isoformat(), "to": last.isoformat(), "timezone": TIMEZONE}
    return {"period": period, "as_of": now.isoformat()}


def _jsonable(value: Any) -> Any:
    """``value`` with datetimes as ISO 8601 (naive ones are UTC, as BSON dates are) and
    anything else JSON lacks as text."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
