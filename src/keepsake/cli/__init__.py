"""The `keepsake` command line: Typer commands over services (never repositories)."""
