"""Bolt listeners, one ``register`` per surface; and the noise filter and reaction map."""
