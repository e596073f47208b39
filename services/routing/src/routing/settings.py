"""Settings of the routing service (environment variables prefixed ``PHANANH_``).

* ``PHANANH_ROUTING_CONFIG``  the agencies and rules (YAML), e.g. config/son-la/routing.yaml;
* ``PHANANH_RULES_SCOPE``     the rule sets published on ``pakn.routing.rules.v1`` it follows;
* ``PHANANH_CITY_CONFIG``     the city's YAML, whose ward and category codes the rules
  are validated against.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from phananh_platform.settings import HttpSettings, ServiceSettings
from pydantic import Field


class Settings(ServiceSettings):
    """Everything the routing service reads from its environment."""

    service: ClassVar[str] = "routing"

    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8082))
    routing_config: Path = Field(
        default=Path("config/son-la/routing.yaml"), description="Agencies and rules (YAML)."
    )
    deadline_check_interval_s: float = Field(
        default=30.0, gt=0, description="Seconds between checks for due warnings and breaches."
    )
    rules_scope: str = Field(
        default="routing",
        pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$",
        description=(
            "Which rule sets on pakn.routing.rules.v1 this deployment follows (the record "
            "key); instances of one deployment share it."
        ),
    )
    agency_topics_retention_days: int = Field(
        default=400,
        ge=1,
        description="How long each agency's inbox and updates topic keep their records "
        "(Kafka retention.ms of the topics routing creates). An agency rebuilds its inbox "
        "from them, so this must cover the longest term of the rules plus pauses and "
        "reopenings: routing refuses to start with less (routing.domain.retention).",
    )
    city_config: Path = Field(
        default=Path("config/son-la/city.yaml"),
        description="The city's YAML: the ward and category codes rules may name.",
    )
