"""The only code that starts servers or connections: HTTP, Socket Mode, the Web API client."""
