"""Pure Block Kit builders: data in, blocks out. No Slack clients, no store, no I/O."""
