"""Durable work: what listeners put in the WorkQueue before the ack, and the worker doing it."""
