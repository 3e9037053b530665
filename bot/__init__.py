"""The Slack side of sarcasm-bot: the Bolt app, its listeners, views, transports and workspace."""
