"""The ML side of sarcasm-bot: store, models, datasets, tuning jobs and the registry.

Nothing in this package imports ``bot``.
"""
