"""`python -m keepsake` runs the CLI."""

from keepsake.cli.main import app

app()
