"""Intake's OpenAPI document: checked in, valid OpenAPI 3.1, and true to the routes and models.

Regenerate docs/openapi/intake.json after changing a route, a payload model or an answer:

    uv run python -m intake.adapters.openapi docs/openapi/intake.json
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import schemathesis
from intake.adapters.http import build_routes
from intake.adapters.http.context import FrontContext
from intake.adapters.openapi import REF, openapi_document, render_openapi
from intake.domain.channels.city_app import AppReport
from intake.domain.channels.collaborator import CollaboratorReport
from intake.domain.channels.hotline import HotlineTicket
from intake.domain.channels.web import WebReport
from phananh_contracts import RawChannelMessageReceivedEvent
from phananh_platform.runtime import build_service
from phananh_platform.settings import ServiceSettings
from starlette.routing import Route
from starlette.testclient import TestClient

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[4]
CHECKED_IN = ROOT / "docs" / "openapi" / "intake.json"
REGENERATE = "uv run python -m intake.adapters.openapi docs/openapi/intake.json"
PLATFORM_ROUTES = {("GET", "/healthz"), ("GET", "/readyz")}
"""Routes every service has (phananh_platform.runtime), documented with intake's own."""


class NoPublisher:
    async def publish_raw(self, event: RawChannelMessageReceivedEvent) -> None:
        raise AssertionError("nothing is published here")


def front_routes() -> list[Route]:
    ctx = FrontContext(
        publisher=NoPublisher(), tracking_secret=b"s" * 32, city_prefix="SL", api_keys={}
    )
    return [route for route in build_routes(ctx) if isinstance(route, Route)]


def test_the_checked_in_document_is_current() -> None:
    found = CHECKED_IN.read_text(encoding="utf-8") if CHECKED_IN.exists() else ""

    assert found == render_openapi(), f"{CHECKED_IN} is out of date; run: {REGENERATE}"


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()

    schemathesis.openapi.from_dict(document).validate()
    assert document["openapi"] == "3.1.0"


def test_every_route_is_documented_and_every_documented_operation_exists() -> None:
    served = {
        (method, route.path)
        for route in front_routes()
        for method in route.methods or ()
        if method != "HEAD"  # Starlette adds HEAD to every GET
    } | PLATFORM_ROUTES
    documented = {
        (method.upper(), path)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
    }

    assert documented == served


def test_request_bodies_are_the_payload_models_schemas() -> None:
    schemas = openapi_document()["components"]["schemas"]

    for model in (AppReport, WebReport, HotlineTicket, CollaboratorReport):
        expected = model.model_json_schema(ref_template=REF)
        expected.pop("$defs", None)
        assert schemas[model.__name__] == expected


def test_every_error_answer_names_its_reason() -> None:
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if not re.fullmatch(r"4\d\d|5\d\d", status):
                    continue
                schema = answer["content"]["application/json"]["schema"]
                if path.startswith("/channels/"):
                    assert schema["properties"]["error"]["properties"]["code"]["enum"], (
                        f"{method} {path} {status}"
                    )
                elif path.startswith("/open311/"):
                    assert schema == {"$ref": REF.format(model="Open311Errors")}


def test_intake_serves_its_document_at_openapi_json() -> None:
    service = build_service("intake", ServiceSettings(), uses_database=False)
    service.routes.extend(front_routes())
    response = TestClient(service.asgi()).get("/openapi.json")

    assert response.status_code == 200
    assert response.json() == json.loads(render_openapi())
