"""How any client connects to the platform's Kafka cluster: brokers, security protocol,
SASL credentials and TLS. Shared by the services (``phananh_platform.settings``) and the
agency client, so both read ``PHANANH_KAFKA__*`` the same way."""

from __future__ import annotations

import ssl
from typing import Any, Literal, Self

from pydantic import BaseModel, Field, SecretStr, model_validator

LOCAL_KAFKA = "127.0.0.1:9092"
"""The broker of the local stack (``phananh up``)."""


class KafkaConnection(BaseModel):
    """Where the brokers are and how a client signs in to them."""

    bootstrap_servers: str = Field(
        default=LOCAL_KAFKA,
        description="Comma-separated host:port list of Kafka brokers.",
    )
    request_timeout_ms: int = Field(
        default=30_000, ge=1_000, description="Upper bound for one Kafka request."
    )
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = Field(
        default="PLAINTEXT",
        description="How clients talk to the brokers: SASL_SSL on a real cluster (each "
        "client signs in with its own principal over TLS); SASL_PLAINTEXT on a loopback "
        "test broker; PLAINTEXT only where the broker accepts anyone (the default local "
        "stack).",
    )
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism, with a SASL_* protocol."
    )
    username: str | None = Field(
        default=None,
        description="The client's Kafka principal (e.g. svc-routing, agency-ubnd-chieng-sinh).",
    )
    password: SecretStr | None = Field(default=None, description="The principal's password.")
    ssl_cafile: str | None = Field(
        default=None,
        description="CA certificate(s) that signed the brokers' certificates (PEM); None: "
        "the system's trust store. Used with SSL and SASL_SSL.",
    )
    ssl_certfile: str | None = Field(
        default=None, description="Client certificate (PEM), where the brokers ask for one."
    )
    ssl_keyfile: str | None = Field(default=None, description="Its private key (PEM).")

    @model_validator(mode="after")
    def _credentials(self) -> KafkaConnection:
        if self.security_protocol.startswith("SASL_"):
            if not self.username or self.password is None:
                raise ValueError(
                    f"security_protocol {self.security_protocol} needs the client's "
                    "credentials: set PHANANH_KAFKA__USERNAME and PHANANH_KAFKA__PASSWORD"
                )
        elif self.username or self.password is not None:
            raise ValueError(
                "Kafka credentials are set but security_protocol is "
                f"{self.security_protocol}: they would never be sent; set "
                "PHANANH_KAFKA__SECURITY_PROTOCOL=SASL_SSL (or SASL_PLAINTEXT)"
            )
        return self

    def brokers(self) -> list[str]:
        """The ``host:port`` of each bootstrap broker."""
        return [part.strip() for part in self.bootstrap_servers.split(",") if part.strip()]

    def client_options(self) -> dict[str, Any]:
        """Connection options of an aiokafka client (producer, consumer, admin) for these
        settings: security protocol, SASL credentials and TLS context."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.brokers(),
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            options["ssl_context"] = self.ssl_context()
        if self.security_protocol.startswith("SASL_"):
            assert self.username is not None and self.password is not None  # validated
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.username
            options["sasl_plain_password"] = self.password.get_secret_value()
        return options

    def ssl_context(self) -> ssl.SSLContext:
        """A TLS context verifying the brokers (``ssl_cafile`` or the system's CAs)."""
        context = ssl.create_default_context(cafile=self.ssl_cafile)
        if self.ssl_certfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context

    def for_principal(self, username: str, password: str) -> Self:
        """The same cluster, signed in as another principal (SASL_PLAINTEXT if these
        settings did not use SASL yet, SASL_SSL if they used TLS)."""
        protocol = self.security_protocol
        if not protocol.startswith("SASL_"):
            protocol = "SASL_SSL" if protocol == "SSL" else "SASL_PLAINTEXT"
        return self.model_copy(
            update={
                "security_protocol": protocol,
                "username": username,
                "password": SecretStr(password),
            }
        )
