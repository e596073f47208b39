"""Shared wiring for the phananh services.

Nothing here knows about the domain beyond the contracts package: settings,
Kafka delivery guarantees (commit after the effect, dead letters for poison
messages), MongoDB connections and idempotency records, and the HTTP runtime
every service shares (health, readiness, metrics, structured logs).
"""
