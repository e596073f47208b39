"""Notify's adapters: the providers that carry messages, and the MongoDB store."""
