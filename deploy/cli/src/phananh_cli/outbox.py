"""The local stack's stand-in for the notification providers: every message lands in a file.

``phananh up`` runs it so that notify has somewhere to deliver on a developer's machine:
the app back end, Zalo OA and ZNS, the SMS gateway and Facebook all point at it, it
answers each the way the real provider answers success, and appends one JSON line per
message to ``data/outbox.jsonl`` — what a citizen would have received, in Vietnamese,
with the provider, the recipient as notify addressed it, and the idempotency key. Only
for local use: it keeps contacts in clear in that file, like the real providers would.

    python -m phananh_cli.outbox --port 8089 --file data/outbox.jsonl
"""

from __future__ import annotations

import argparse
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PROVIDERS = ("app-push", "zalo-oa", "zalo-zns", "sms", "facebook")
"""The HTTP providers of notify's reference configuration, each at ``/<provider id>``."""


def success_answer(provider: str) -> dict[str, Any]:
    """A body every provider's adapter reads as delivered, with a message reference."""
    reference = f"local-{uuid.uuid4().hex[:12]}"
    return {
        "error": 0,
        "message": "Success",
        "data": {"message_id": reference, "msg_id": reference},
        "message_id": reference,
        "recipient_id": "local",
        "id": reference,
    }


def outbox_app(path: Path) -> Starlette:
    """The HTTP app writing every POST to ``path`` as a JSON line."""

    async def receive(request: Request) -> JSONResponse:
        provider = request.path_params["provider"]
        if provider not in PROVIDERS:
            return JSONResponse({"error": -1, "message": f"unknown provider {provider}"}, 404)
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except (ValueError, RecursionError):
            body = raw.decode("utf-8", "replace")
        line = {
            "received_at": datetime.now(UTC).isoformat(),
            "provider": provider,
            "idempotency_key": request.headers.get("idempotency-key"),
            "body": body,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        return JSONResponse(success_answer(provider))

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "outbox": str(path)})

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/{provider}", receive, methods=["POST"]),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local stand-in for notify's providers.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", type=Path, required=True, help="where messages are appended")
    args = parser.parse_args(argv)
    uvicorn.run(outbox_app(args.file), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
