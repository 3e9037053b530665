"""The embedded store: SQLite in WAL mode, one worker thread per store."""
