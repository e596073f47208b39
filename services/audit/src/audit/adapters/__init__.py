"""Audit's adapters: the trail and checkpoint store, the facts read model, the oversight API."""
