"""The only code that starts servers or connections: HTTP mode and Socket Mode."""
