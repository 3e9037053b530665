"""Answering in Slack: the reply flow, the hourglass while it works, exactly-once claims."""
