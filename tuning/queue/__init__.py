"""The durable work queue: one interface, with SQLite (embedded) and Pub/Sub (production)."""
