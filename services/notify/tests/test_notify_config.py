"""The configuration and settings are validated at start, naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet
from notify.config import NotifyConfigError, load_notify_config
from notify.settings import Settings
from pydantic import SecretStr, ValidationError

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = ROOT / "config/son-la/notify.yaml"


def variant(tmp_path: Path, **changes: object) -> Path:
    document = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
    document.update(changes)
    document["templates_dir"] = str(ROOT / "config/son-la/notify/templates")
    path = tmp_path / "notify.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def test_the_reference_configuration_loads() -> None:
    config = load_notify_config(REFERENCE)
    assert config.templates_dir == ROOT / "config/son-la/notify/templates"
    assert config.fallback == ("zalo-zns", "sms", "smtp")
    assert config.own_channel["zalo"] == "zalo-oa"
    assert config.worst_handling_s() < 240


def test_an_unknown_provider_in_the_fallback_is_named(tmp_path: Path) -> None:
    with pytest.raises(NotifyConfigError, match="fallback: no provider 'telegram'"):
        load_notify_config(variant(tmp_path, fallback=["sms", "telegram"]))


def test_retries_that_could_outlast_the_consumer_are_refused(tmp_path: Path) -> None:
    retry = {"max_attempts": 10, "base_delay_s": 5, "max_delay_s": 60, "jitter": 0.5}
    with pytest.raises(NotifyConfigError, match="one delivery may take"):
        load_notify_config(variant(tmp_path, retry=retry))


def test_an_unknown_time_zone_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        NotifyConfigError, match="timezone: Value error, unknown time zone 'Mars/Base'"
    ):
        load_notify_config(variant(tmp_path, timezone="Mars/Base"))


def test_an_unknown_provider_kind_is_named(tmp_path: Path) -> None:
    providers = [{"id": "pigeon", "kind": "carrier_pigeon"}]
    with pytest.raises(NotifyConfigError, match=r"providers\.0"):
        load_notify_config(variant(tmp_path, providers=providers, own_channel={}, fallback=[]))


def test_settings_refuse_placeholders_and_keys_that_are_not_fernet_keys() -> None:
    good = Fernet.generate_key().decode()
    settings = Settings(contact_keys=[SecretStr(good)])
    assert settings.http.port == 8083
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(contact_keys=[SecretStr("change-me")])
    with pytest.raises(ValidationError, match="not a Fernet key"):
        Settings(contact_keys=[SecretStr("short")])
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(
            contact_keys=[SecretStr(good)],
            notify_provider_secrets={"sms": SecretStr("change-me")},
        )
