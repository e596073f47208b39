"""The local outbox: notify delivers there when no real provider is configured."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml
from phananh_cli.outbox import outbox_app
from phananh_cli.stack import LocalStack, Paths, Ports

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]


async def test_a_message_lands_in_the_file_and_is_answered_as_delivered(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    transport = httpx.ASGITransport(app=outbox_app(outbox))
    async with httpx.AsyncClient(transport=transport, base_url="http://outbox") as client:
        sent = await client.post(
            "/zalo-zns",
            json={"phone": "84912345678", "template_data": {"ma_tra_cuu": "SL-2611-NHYQ2X"}},
            headers={"Idempotency-Key": "n-1"},
        )
        unknown = await client.post("/pigeon", json={})

    assert sent.status_code == 200 and sent.json()["error"] == 0
    assert sent.json()["data"]["msg_id"].startswith("local-")
    assert unknown.status_code == 404
    (line,) = outbox.read_text(encoding="utf-8").splitlines()
    recorded = json.loads(line)
    assert (recorded["provider"], recorded["idempotency_key"]) == ("zalo-zns", "n-1")
    assert recorded["body"]["template_data"]["ma_tra_cuu"] == "SL-2611-NHYQ2X"


def test_notify_is_pointed_at_the_outbox_with_the_reference_templates(tmp_path: Path) -> None:
    stack = LocalStack(Paths(root=ROOT, data=tmp_path), Ports(outbox=18089), say=lambda _: None)

    env = stack.notify_env()

    config = yaml.safe_load(Path(env["PHANANH_NOTIFY_CONFIG"]).read_text(encoding="utf-8"))
    urls = {p["id"]: p.get("url") for p in config["providers"]}
    assert urls["app-push"] == "http://127.0.0.1:18089/app-push"
    assert urls["sms"] == "http://127.0.0.1:18089/sms"
    assert Path(config["templates_dir"]).is_dir()
    assert set(json.loads(env["PHANANH_NOTIFY_PROVIDER_SECRETS"])) >= {"app-push", "zalo-oa"}
