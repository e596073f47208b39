"""Intake's adapters: the HTTP front, Kafka publishing, the MongoDB store."""
