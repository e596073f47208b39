"""The OpenAPI 3.1 document of intake's HTTP front, served at ``GET /openapi.json``.

Built from the code, not written by hand: the request bodies are the JSON Schemas of the
channel payload models (``AppReport``, ``WebReport`` …, pydantic's ``model_json_schema``),
and the answers are those the routes give (see intake.adapters.http.common and .open311):
202/200 with tracking codes, ``{"error": {"code", "message"[, "message_vi"]}}`` errors in
the order the routes check them, and Open311's list of ``{code, description}``.

``python -m intake.adapters.openapi docs/openapi/intake.json`` writes the checked-in copy;
a unit test fails when that copy is stale.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from phananh_contracts import RejectionReason
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from intake.adapters.http import email as email_route
from intake.adapters.http import facebook as facebook_route
from intake.adapters.http import open311 as open311_route
from intake.adapters.http import zalo as zalo_route
from intake.adapters.http.common import MAX_RAW_BODY_CHARS, RETRY_AFTER_SECONDS
from intake.domain.channels.city_app import AppReport
from intake.domain.channels.collaborator import CollaboratorReport
from intake.domain.channels.facebook import FacebookBatch
from intake.domain.channels.hotline import HotlineTicket
from intake.domain.channels.open311 import FORM_CONTENT_TYPE, MAX_DESCRIPTION
from intake.domain.channels.web import WebReport
from intake.domain.channels.zalo import CITIZEN_EVENTS, ZaloMessageEvent
from intake.domain.limits import Scope

PATH = "/openapi.json"
JSON = "application/json"
XML = "text/xml"
TEXT = "text/plain"
REF = "#/components/schemas/{model}"
TRACKING_CODE_PATTERN = r"^[A-Z]{2,4}-[0-9]{4}-[0-9A-HJKMNP-TV-Z]{6}$"
API_KEY_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]

Json = dict[str, Any]


def _ref(name: str) -> Json:
    return {"$ref": REF.format(model=name)}


def _model_schemas(models: Iterable[type[BaseModel]]) -> dict[str, Json]:
    """Each model's JSON Schema, its ``$defs`` hoisted into ``components/schemas``."""
    schemas: dict[str, Json] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=REF)
        for name, definition in {**schema.pop("$defs", {}), model.__name__: schema}.items():
            if schemas.setdefault(name, definition) != definition:
                raise ValueError(f"two payload schemas are named {name}")
    return schemas


def _zalo_event(schemas: dict[str, Json]) -> Json:
    """A Zalo webhook event: the message event's schema plus what the signature covers."""
    event = dict(schemas.pop(ZaloMessageEvent.__name__))
    event["title"] = "Zalo OA webhook event"
    event["description"] = (
        "One event of the Zalo OA webhook (API v3). Only the events "
        f"{', '.join(sorted(CITIZEN_EVENTS))} carry a citizen message (sender and message "
        "required); any other event, or a malformed one, is answered 200 `ignored`. "
        "The body is not checked against this schema before the signature."
    )
    event["properties"] = {
        "app_id": {"type": "string", "description": "The Zalo app's id."},
        "timestamp": {
            "type": "string",
            "description": "Milliseconds since the epoch, as a string; part of the signature.",
        },
        **event["properties"],
    }
    event["required"] = ["event_name", "timestamp"]
    return event


def _error_schema(codes: Iterable[str], *, message_vi: bool, limit: bool = False) -> Json:
    detail: Json = {
        "type": "object",
        "properties": {
            "code": {
                "type": "string",
                "enum": sorted(set(codes)),
                "description": "Why the request was refused, for programs.",
            },
            "message": {"type": "string", "description": "Why, in English, for people."},
            "message_vi": {
                "type": "string",
                "description": "What to tell the citizen, in Vietnamese (app and web routes).",
            },
        },
        "required": ["code", "message", *(["message_vi"] if message_vi else [])],
    }
    if limit:
        detail["properties"]["limit"] = {
            "type": "string",
            "enum": [Scope.API_KEY.value, Scope.SENDER.value],
            "description": "The limit reached: the API client's requests, or the sender's "
            "messages (see docs/intake.md, rate limits).",
        }
        detail["required"].append("limit")
    return {
        "type": "object",
        "properties": {"error": detail},
        "required": ["error"],
        "additionalProperties": False,
    }


_PARSER_REASONS = [reason.value for reason in RejectionReason]
"""What a 422 names: the channel parser's reason (``invalid_payload``, ``too_long`` …)."""

_WHEN = {
    400: "The request is malformed (see `code`).",
    401: "No known API key, or the webhook's signature is missing or wrong.",
    403: "The API key belongs to another channel's client.",
    413: "The body is above the limit (declared or streamed); nothing is published.",
    415: "The `Content-Type` is not one the route accepts.",
    422: "The channel's parser refused the payload; nothing is published.",
    429: (
        "Over a rate limit (`limit`: the API client's requests, or the sender's messages); "
        "nothing is published. Send again after `Retry-After` seconds."
    ),
    503: "Kafka did not acknowledge the message (send it again), or secrets are not set.",
}


def _error(status: int, codes: Iterable[str], *, citizen: bool = False, **headers: Json) -> Json:
    message_vi = citizen and status in (413, 422, 429, 503)
    schema = _error_schema(codes, message_vi=message_vi, limit=status == 429)
    answer: Json = {"description": _WHEN[status], "content": {JSON: {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


_WWW_AUTHENTICATE: Json = {
    "description": 'Always `Bearer realm="phananh-intake"`.',
    "required": True,
    "schema": {"type": "string"},
}


def _retry_after(required: bool, *, limited: bool = False) -> Json:
    wait = "until the limit's window ends" if limited else str(RETRY_AFTER_SECONDS)
    return {
        "description": f"Seconds to wait before sending again ({wait}).",
        "required": required,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }


def _submission(
    summary: str,
    description: str,
    bodies: dict[str, Json],
    *,
    citizen: bool = False,
    bad_request: Iterable[str] = (),
    parameters: Iterable[Json] = (),
) -> Json:
    """A ``POST`` of an API-key channel: 202 with tracking codes, or a JSON error."""
    responses: Json = {
        "202": {
            "description": "Kafka has the message; the tracking codes of the reports it becomes.",
            "content": {JSON: {"schema": _ref("Accepted")}},
        },
    }
    if bad_request:
        responses["400"] = _error(400, bad_request, citizen=citizen)
    responses |= {
        "401": _error(401, ["unauthorized"], WWW_Authenticate=_WWW_AUTHENTICATE),
        "403": _error(403, ["forbidden"]),
        "413": _error(413, ["payload_too_large"], citizen=citizen),
        "415": _error(415, ["unsupported_media_type"]),
        "422": _error(422, _PARSER_REASONS, citizen=citizen),
        "429": _error(
            429, ["rate_limited"], citizen=citizen, Retry_After=_retry_after(True, limited=True)
        ),
        "503": _error(503, ["unavailable"], citizen=citizen, Retry_After=_retry_after(True)),
    }
    operation: Json = {
        "tags": ["channels"],
        "summary": summary,
        "description": description,
        "security": API_KEY_SECURITY,
        "requestBody": {"required": True, "content": bodies},
        "responses": _headers_named(responses),
    }
    if parameters:
        operation["parameters"] = list(parameters)
    return operation


def _headers_named(responses: Json) -> Json:
    """Header names as HTTP spells them (``WWW_Authenticate`` → ``WWW-Authenticate``)."""
    for answer in responses.values():
        if "headers" in answer:
            answer["headers"] = {
                name.replace("_", "-"): header for name, header in answer["headers"].items()
            }
    return responses


def _webhook(summary: str, description: str, body: Json, security: str) -> Json:
    responses: Json = {
        "200": {
            "description": (
                "The signed messages are published (`accepted`), or none carries a citizen "
                "message (`ignored`, with the reason of each item). A message whose sender "
                "is over its rate limit is listed as ignored (`rate_limited`) and recorded "
                "as rejected."
            ),
            "content": {JSON: {"schema": _ref("WebhookAnswer")}},
        },
        "401": _error(401, ["bad_signature"]),
        "413": _error(413, ["payload_too_large"]),
        "503": _error(503, ["not_configured", "unavailable"], Retry_After=_retry_after(False)),
    }
    return {
        "tags": ["webhooks"],
        "summary": summary,
        "description": description,
        "security": [{security: []}],
        "requestBody": {"required": True, "content": {JSON: {"schema": body}}},
        "responses": _headers_named(responses),
    }


# --- Open311 GeoReport v2 --------------------------------------------------------------

_FORMAT: Json = {
    "name": "fmt",
    "in": "path",
    "required": True,
    "description": "`json` or `xml`; any other suffix answers 404 (in XML).",
    "schema": {"type": "string", "enum": ["json", "xml"]},
}
_JURISDICTION: Json = {
    "name": "jurisdiction_id",
    "in": "query",
    "required": False,
    "description": "Accepted and ignored: one server, one city.",
    "schema": {"type": "string"},
}


def _segment(name: str, description: str) -> Json:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "pattern": r"^[^/]+$"},
    }


def _open311_content(schema: Json) -> Json:
    return {
        JSON: {"schema": schema},
        XML: {"schema": {"type": "string", "description": "The same document in XML."}},
    }


def _open311_errors(*statuses: int) -> Json:
    why = {
        400: "The request is not valid (see `description`).",
        403: "`api_key` is missing, unknown or not an Open311 client's.",
        404: "Unknown format (`.xml` or `.json` only), or nothing by that id.",
        413: "The form is larger than the limit.",
        429: (
            "Over a rate limit: the `api_key`'s or the sender's (POST), the client "
            "address's (reads); retry after `Retry-After` seconds."
        ),
        503: "Kafka or the read model is unavailable; retry later.",
    }
    answers: Json = {}
    for status in statuses:
        answer: Json = {
            "description": why[status],
            "content": _open311_content(_ref("Open311Errors")),
        }
        if status == 429:
            answer["headers"] = {"Retry-After": _retry_after(True, limited=True)}
        if status == 404:  # an unroutable path (e.g. an empty id) gets Starlette's own 404
            answer["content"][TEXT] = {"schema": {"type": "string"}}
        answers[str(status)] = answer
    return answers


def _open311_get(summary: str, answer: Json, *parameters: Json, errors: Iterable[int] = ()) -> Json:
    return {
        "get": {
            "tags": ["open311"],
            "summary": summary,
            "parameters": [*parameters, _FORMAT, _JURISDICTION],
            "responses": {
                "200": {"description": summary, "content": _open311_content(answer)},
                **_open311_errors(404, *errors),
            },
        }
    }


def _open311_form() -> Json:
    def text(description: str, **limits: Any) -> Json:
        return {"type": "string", "description": description, **limits}

    return {
        "type": "object",
        "title": "Open311 POST requests form",
        "properties": {
            "api_key": text("Key of an `open311:…` client; removed before publishing."),
            "service_code": text("A code of `GET services`."),
            "description": text("The citizen's text.", maxLength=MAX_DESCRIPTION),
            "lat": text("Latitude (WGS 84), with `long`."),
            "long": text("Longitude (WGS 84), with `lat`."),
            "address_string": text("Where the issue is, as text."),
            "address_id": text("An address id, kept as text for triage."),
            "attribute[ward]": text("Ward or commune (phường, xã), e.g. Chiềng Sinh."),
            "first_name": text("Given name (tên)."),
            "last_name": text("Family name (họ)."),
            "email": text("Email address."),
            "phone": text("Phone number."),
            "media_url": text("Absolute http(s) URL of a photo."),
            "jurisdiction_id": text("Accepted and ignored."),
            "device_id": text("Ignored."),
            "account_id": text("Ignored."),
        },
        "required": ["api_key", "service_code", "description"],
        "description": (
            "A location is required too: `lat` and `long`, `address_string` or `address_id`."
        ),
    }


def _open311_paths() -> Json:
    prefix = open311_route.PREFIX
    return {
        f"{prefix}/discovery.{{fmt}}": _open311_get("Discovery", _ref("Open311Discovery")),
        f"{prefix}/services.{{fmt}}": _open311_get(
            "Services: the city's categories", {"type": "array", "items": _ref("Open311Service")}
        ),
        f"{prefix}/services/{{service_code}}.{{fmt}}": _open311_get(
            "Service definition: its one attribute, the ward",
            _ref("Open311ServiceDefinition"),
            _segment("service_code", "A code of `GET services`."),
        ),
        f"{prefix}/requests.{{fmt}}": {
            **_open311_get(
                "Search or list service requests",
                {"type": "array", "items": _ref("Open311ServiceRequest")},
                *(
                    {"name": name, "in": "query", "required": False, "description": what}
                    | {"schema": {"type": "string"}}
                    for name, what in (
                        ("service_request_id", "Tracking codes, comma separated."),
                        ("service_code", "Service codes, comma separated."),
                        ("status", "`open`, `closed` or both, comma separated."),
                        ("start_date", "ISO 8601; without an offset, +07:00."),
                        ("end_date", "ISO 8601; at most 90 days after start_date."),
                    )
                ),
                errors=(400, 429, 503),
            ),
            "post": {
                "tags": ["open311"],
                "summary": "Post a service request (a new report)",
                "parameters": [_FORMAT],
                "requestBody": {
                    "required": True,
                    "content": {FORM_CONTENT_TYPE: {"schema": _open311_form()}},
                },
                "responses": {
                    "200": {
                        "description": "Published; the tracking code is `service_request_id`.",
                        "content": _open311_content(
                            {"type": "array", "items": _ref("Open311Receipt")}
                        ),
                    },
                    **_open311_errors(400, 403, 404, 413, 429, 503),
                },
            },
        },
        f"{prefix}/requests/{{service_request_id}}.{{fmt}}": _open311_get(
            "One service request by tracking code",
            {"type": "array", "items": _ref("Open311ServiceRequest")},
            _segment("service_request_id", "The tracking code (mã tra cứu)."),
            errors=(429, 503),
        ),
        f"{prefix}/tokens/{{token}}.{{fmt}}": _open311_get(
            "The tracking code of a token",
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "service_request_id": {"type": "string"},
                        "token": {"type": "string"},
                    },
                    "required": ["service_request_id", "token"],
                },
            },
            _segment("token", "The `token` of a POST requests answer."),
            errors=(429, 503),
        ),
    }


def _open311_schemas() -> dict[str, Json]:
    text, number = {"type": ["string", "null"]}, {"type": ["number", "null"]}
    fields = (
        *("service_request_id", "status", "status_notes", "service_name", "service_code"),
        *("description", "agency_responsible", "service_notice", "requested_datetime"),
        *("updated_datetime", "expected_datetime", "address", "address_id", "zipcode"),
        *("lat", "long", "media_url"),
    )
    return {
        "Open311Errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "code": {"type": "integer", "description": "Equals the HTTP status."},
                    "description": {"type": "string", "description": "What is wrong."},
                },
                "required": ["code", "description"],
            },
        },
        "Open311Discovery": {
            "type": "object",
            "properties": {
                "changeset": {"type": "string"},
                "contact": {"type": "string"},
                "key_service": {"type": "string"},
                "endpoints": {"type": "array", "items": {"type": "object"}},
            },
            "required": ["changeset", "contact", "key_service", "endpoints"],
        },
        "Open311Service": {
            "type": "object",
            "properties": {
                "service_code": {"type": "string"},
                "service_name": {"type": "string"},
                "description": {"type": "string"},
                "metadata": {"type": "boolean"},
                "type": {"type": "string", "enum": ["realtime"]},
                "keywords": {"type": "string"},
                "group": {"type": "string"},
            },
            "required": ["service_code", "service_name", "metadata", "type"],
        },
        "Open311ServiceDefinition": {
            "type": "object",
            "properties": {
                "service_code": {"type": "string"},
                "attributes": {"type": "array", "items": {"type": "object"}},
            },
            "required": ["service_code", "attributes"],
        },
        "Open311Receipt": {
            "type": "object",
            "properties": {
                "service_request_id": {"type": "string", "pattern": TRACKING_CODE_PATTERN},
                "token": {"type": "string"},
                "service_notice": {"type": "string"},
                "account_id": {"type": "null"},
            },
            "required": ["service_request_id", "token", "service_notice"],
        },
        "Open311ServiceRequest": {
            "type": "object",
            "properties": {field: number if field in ("lat", "long") else text for field in fields}
            | {"status": {"type": "string", "enum": ["open", "closed"]}},
            "required": ["service_request_id", "status", "service_code", "requested_datetime"],
        },
    }


# --- the document ----------------------------------------------------------------------


def _answer_schemas() -> dict[str, Json]:
    codes = {"type": "array", "items": {"type": "string", "pattern": TRACKING_CODE_PATTERN}}
    return {
        "Accepted": {
            "type": "object",
            "description": "The message is in Kafka; one tracking code per report it becomes.",
            "properties": {
                "status": {"const": "accepted"},
                "channel_message_id": {"type": "string", "minLength": 1},
                "tracking_codes": codes | {"minItems": 1},
            },
            "required": ["status", "channel_message_id", "tracking_codes"],
            "additionalProperties": False,
        },
        "WebhookAnswer": {
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": ["accepted", "ignored"]},
                "channel_message_ids": {"type": "array", "items": {"type": "string"}},
                "tracking_codes": codes,
                "ignored": {
                    "type": "array",
                    "description": (
                        "Items that are no citizen message, and why; and messages whose "
                        "sender is over its rate limit (`rate_limited`), recorded as rejected."
                    ),
                    "items": {
                        "type": "object",
                        "properties": {
                            "reason": {"type": "string", "enum": _PARSER_REASONS},
                            "detail": {"type": "string"},
                        },
                        "required": ["reason", "detail"],
                    },
                },
            },
            "required": ["status", "channel_message_ids", "tracking_codes", "ignored"],
            "additionalProperties": False,
        },
        "Health": {
            "type": "object",
            "properties": {"status": {"const": "alive"}, "service": {"const": "intake"}},
            "required": ["status", "service"],
        },
        "Readiness": {
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": ["ready", "not ready"]},
                "checks": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "required": ["status", "checks"],
        },
    }


def _health_paths() -> Json:
    def get(summary: str, responses: Json) -> Json:
        return {"get": {"tags": ["health"], "summary": summary, "responses": responses}}

    ready = {"content": {JSON: {"schema": _ref("Readiness")}}}
    return {
        "/healthz": get(
            "Liveness",
            {
                "200": {
                    "description": "The process runs.",
                    "content": {JSON: {"schema": _ref("Health")}},
                }
            },
        ),
        "/readyz": get(
            "Readiness",
            {
                "200": {"description": "Kafka and the database answer.", **ready},
                "503": {"description": "Starting, or Kafka or the database is missing.", **ready},
            },
        ),
        PATH: get(
            "This document",
            {
                "200": {
                    "description": "OpenAPI 3.1.",
                    "content": {JSON: {"schema": {"type": "object"}}},
                }
            },
        ),
    }


def openapi_document() -> Json:
    """The OpenAPI 3.1 document of intake's HTTP front (deterministic)."""
    schemas = _model_schemas(
        [AppReport, WebReport, HotlineTicket, CollaboratorReport, FacebookBatch, ZaloMessageEvent]
    )
    zalo_event = _zalo_event(schemas)
    schemas |= _answer_schemas() | _open311_schemas()
    idempotency_key: Json = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "The form's message id: a retry with the same key is the same report.",
        "schema": {"type": "string", "pattern": "^[!-~]{1,200}$"},
    }
    open311 = _open311_paths()
    paths: Json = {
        "/channels/app/reports": {
            "post": _submission(
                "A report from the city app",
                "Key of an `app` or `app:…` client. `client_message_id` makes retries safe.",
                {JSON: {"schema": _ref("AppReport")}},
                citizen=True,
            )
        },
        "/channels/web/reports": {
            "post": _submission(
                "A report from the city portal's form",
                "Key of a `web` or `web:…` client; JSON or form-encoded.",
                {
                    JSON: {"schema": _ref("WebReport")},
                    FORM_CONTENT_TYPE: {"schema": _ref("WebReport")},
                },
                citizen=True,
                bad_request=["bad_request"],
                parameters=[idempotency_key],
            )
        },
        "/channels/hotline/tickets": {
            "post": _submission(
                "A call-centre ticket",
                "Key of a `hotline` or `hotline:…` client; `ticket_id` is the message id.",
                {JSON: {"schema": _ref("HotlineTicket")}},
            )
        },
        "/channels/email/messages": {
            "post": _submission(
                "An email, as raw RFC 5322 bytes",
                "Key of an `email` or `email:…` client; the `Message-ID` is the message id.",
                {
                    email_route.CONTENT_TYPE: {
                        "schema": {"type": "string", "contentMediaType": email_route.CONTENT_TYPE}
                    }
                },
                bad_request=["missing_message_id"],
            )
        },
        "/channels/collaborators/reports": {
            "post": _submission(
                "A collaborator's report (each item a report)",
                "Key of a `collaborator` or `collaborator:…` client; one code per item.",
                {JSON: {"schema": _ref("CollaboratorReport")}},
            )
        },
        "/channels/zalo/webhook": {
            "post": _webhook(
                "Zalo OA webhook",
                "`X-ZEvent-Signature: mac=<hex SHA-256 of app_id + body + timestamp + "
                "oa_secret>`. Checks: 503 `not_configured`, 413, then the signature.",
                _ref("ZaloWebhookEvent"),
                "zaloSignature",
            )
        },
        facebook_route.PATH: {
            "get": {
                "tags": ["webhooks"],
                "summary": "Facebook subscription handshake",
                "parameters": [
                    {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                    for name in ("hub.mode", "hub.verify_token", "hub.challenge")
                ],
                "responses": {
                    "200": {
                        "description": "`hub.challenge`, echoed.",
                        "content": {TEXT: {"schema": {"type": "string"}}},
                    },
                    "403": _error(403, ["forbidden"]),
                    "503": _error(503, ["not_configured"]),
                },
            },
            "post": _webhook(
                "Facebook Page webhook",
                "`X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, body)>`. A batch "
                "is split into one raw event per Messenger message or feed item.",
                _ref("FacebookBatch"),
                "facebookSignature",
            ),
        },
        **open311,
        **_health_paths(),
    }
    schemas["ZaloWebhookEvent"] = zalo_event
    limit = f"{MAX_RAW_BODY_CHARS:,}".replace(",", " ")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "phananh intake",
            "version": "1",
            "summary": "Citizens' reports (phản ánh, kiến nghị) from every channel, in.",
            "description": (
                "Intake's HTTP front (see docs/intake.md). Every accepted message is in "
                "Kafka before the answer. Bodies are capped by `PHANANH_MAX_BODY_BYTES` "
                f"(at most {limit} bytes; 750 000 for email, 64 KiB for Open311 forms). "
                "Rate limits (`PHANANH_RATE_LIMITS__*`) are shared by every instance: "
                "requests of an API client, messages of a sender, Open311 reads of an "
                "address; over one, 429 with `Retry-After`."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": [
            {"name": "channels", "description": "Channels with an API key."},
            {"name": "webhooks", "description": "Signed webhooks of Zalo and Facebook."},
            {"name": "open311", "description": "Open311 GeoReport v2."},
            {"name": "health", "description": "Liveness, readiness and this document."},
        ],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`Authorization: Bearer <key>` (`PHANANH_API_KEYS`).",
                },
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
                "zaloSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": zalo_route.SIGNATURE_HEADER,
                    "description": "`mac=<hex SHA-256(app_id + body + timestamp + oa_secret)>`.",
                },
                "facebookSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": facebook_route.SIGNATURE_HEADER,
                    "description": "`sha256=<hex HMAC-SHA256(app secret, raw body)>`.",
                },
            },
        },
    }


def render_openapi() -> str:
    """The document as the checked-in file holds it."""
    return json.dumps(openapi_document(), ensure_ascii=False, indent=2) + "\n"


def routes() -> list[BaseRoute]:
    """``GET /openapi.json``."""
    rendered = openapi_document()

    async def document(_: Request) -> JSONResponse:
        return JSONResponse(rendered)

    return [Route(PATH, document, methods=["GET"])]


if __name__ == "__main__":  # python -m intake.adapters.openapi docs/openapi/intake.json
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/openapi/intake.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_openapi(), encoding="utf-8")
