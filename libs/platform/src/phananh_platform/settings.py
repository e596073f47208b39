"""Settings shared by every service, read from the environment.

Variables use the prefix ``PHANANH_`` and ``__`` between nested names, e.g.
``PHANANH_KAFKA__BOOTSTRAP_SERVERS`` or ``PHANANH_MONGODB__URL``. Defaults
point at the local stack that ``phananh up`` starts on 127.0.0.1.
"""

from __future__ import annotations

import sys
from typing import ClassVar, Literal, TypeVar

from phananh_contracts.connection import LOCAL_KAFKA, KafkaConnection
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "LOCAL_KAFKA",
    "LOCAL_MONGODB",
    "HttpSettings",
    "KafkaSettings",
    "MongoSettings",
    "ServiceSettings",
    "load_settings",
]

LOCAL_MONGODB = "mongodb://127.0.0.1:27017/?directConnection=true&retryWrites=false"


class KafkaSettings(KafkaConnection):
    """How a service reaches the Kafka cluster, and how the topics it creates are kept."""

    replication_factor: int = Field(
        default=1,
        ge=1,
        description="Replicas of each topic created by the platform (3 on a production "
        "cluster; 1 on a single local broker).",
    )
    min_insync_replicas: int = Field(
        default=1,
        ge=1,
        description="``min.insync.replicas`` of each topic created: with acks=all a write "
        "is acknowledged once this many replicas have it (2 with 3 replicas: one broker "
        "may die without losing an acknowledged record).",
    )
    raw_retention_days: float = Field(
        default=7,
        gt=0,
        le=365,
        description="Days ``pakn.channel.raw.v1`` keeps messages as channels sent them "
        "(contacts in clear): time to replay a failed normalization, no longer.",
    )
    raw_dead_letters_retention_days: float = Field(
        default=30,
        gt=0,
        le=365,
        description="Days intake's dead letters (raw messages it could not handle, contacts "
        "in clear) are kept: time to fix and replay them.",
    )

    @model_validator(mode="after")
    def _replicas(self) -> KafkaSettings:
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"min_insync_replicas ({self.min_insync_replicas}) exceeds the "
                f"replication_factor ({self.replication_factor}): no write could succeed"
            )
        return self


class MongoSettings(BaseModel):
    """How a service reaches its MongoDB-wire database (MongoDB or FerretDB)."""

    url: SecretStr = Field(
        default=SecretStr(LOCAL_MONGODB),
        description="MongoDB connection string; may carry credentials, so it is secret.",
    )
    database: str = Field(
        default="",
        description="Database name; empty: the service's own, ``pakn_<service>``. Each "
        "service owns its database: no service reads another's collections, a role can be "
        "granted per database, and the local FerretDB writes each in a file of its own.",
    )
    server_selection_timeout_ms: int = Field(
        default=5_000, ge=100, description="How long to wait for a reachable server."
    )
    write_concern: Literal["majority", "1"] = Field(
        default="majority",
        description="Acknowledgement a write waits for (overrides the URL's `w`): "
        "`majority` on a replica set means a majority of members hold it, so a failover "
        "loses no acknowledged write; a single server or FerretDB answers it like `1`. "
        "Writes also wait for the journal.",
    )
    query_indexes: bool = Field(
        default=True,
        description="Create the indexes that serve queries (not the unique ones, which "
        "are always created). MongoDB answers queries from them; FerretDB's SQLite backend "
        "answers only `_id` from an index and scans for every other filter, so there they "
        "would only slow every insert: the local stack sets this to false.",
    )

    @field_validator("url")
    @classmethod
    def _refuse_placeholder(cls, value: SecretStr) -> SecretStr:
        if "change-me" in value.get_secret_value():
            raise ValueError("the MongoDB URL still holds the placeholder password 'change-me'")
        return value


class HttpSettings(BaseModel):
    """Where a service serves health, readiness, metrics and its own HTTP API."""

    host: str = Field(default="127.0.0.1", description="Interface to bind.")
    port: int = Field(default=8080, ge=0, le=65535, description="TCP port; 0 picks a free one.")


class ServiceSettings(BaseSettings):
    """Base settings of every service; each service extends it with its own."""

    model_config = SettingsConfigDict(
        env_prefix="PHANANH_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    service: ClassVar[str] = "service"
    """The service's name (each service's settings set it): its own database's suffix."""

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    mongodb: MongoSettings = Field(default_factory=MongoSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    instance_id: str | None = Field(
        default=None,
        description="Name of this instance in logs and Kafka client ids (defaults to host:pid).",
    )
    log_format: Literal["json", "text"] = Field(default="json", description="Log line format.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO")
    retry_backoff_max_s: float = Field(
        default=10.0,
        gt=0,
        description="Longest pause before a message whose handling failed for a transient "
        "reason (broker or database unreachable) is tried again.",
    )
    metrics_refresh_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds between measurements behind gauges that must ask a server "
        "(consumer lag, dead letters, open cases, audit chains).",
    )

    @model_validator(mode="after")
    def _own_database(self) -> ServiceSettings:
        if not self.mongodb.database:
            own = f"pakn_{self.service}"  # a copy: a MongoSettings may be shared
            self.mongodb = self.mongodb.model_copy(update={"database": own})
        return self


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def load_settings(kind: type[SettingsT], program: str) -> SettingsT:
    """The settings from the environment, or exit naming each variable that is wrong."""
    try:
        return kind()
    except ValidationError as error:
        lines = [f"{program}: the configuration is not usable:"]
        for problem in error.errors():
            path = "__".join(str(part) for part in problem["loc"]).upper()
            lines.append(f"  PHANANH_{path}: {problem['msg']}")
        lines.append("Set these environment variables (see .env.example) and start again.")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None
