"""Bolt listeners: each module exposes ``register(app, services)``."""
