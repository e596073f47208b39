"""Routing's adapters: the case and deadline store (MongoDB), the rules file and the rules
topic (Kafka)."""
