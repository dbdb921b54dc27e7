"""Background jobs: names, the handler registry and queue adapters (Huey on SQLite or Redis)."""
