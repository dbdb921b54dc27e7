"""Generates the reference docs that must not drift from the code: docs/configuration.md
from `Settings` and docs/cli.md from the CLI's `--help`. Run `make docs` after a change."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from keepsake.config import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def configuration_markdown() -> str:
    lines = [
        "# Configuration",
        "",
        "Keepsake reads its settings from environment variables with the prefix `KEEPSAKE_`",
        "(or a `.env` file's equivalents) and refuses to start when one is invalid.",
        "This page is generated from `src/keepsake/config.py` by `make docs`.",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(empty)" if default is None else f"`{default}`"
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `KEEPSAKE_{name.upper()}` | {shown} | {description} |")
    return "\n".join(lines) + "\n"


def cli_markdown() -> str:
    import typer

    from keepsake.cli.main import app

    command = typer.main.get_command(app)
    sections = ["# Command line", "", "Generated from `keepsake --help` by `make docs`.", ""]

    # Typer ships its own copy of click, so its command objects are typed loosely here.
    def walk(cmd: Any, path: list[str]) -> None:
        ctx = cmd.make_context(" ".join(path), [], resilient_parsing=True)
        ctx.terminal_width = ctx.max_content_width = 100
        help_text = cmd.get_help(ctx).rstrip()
        sections.extend([f"## `{' '.join(path)}`", "", "```", help_text, "```", ""])
        if hasattr(cmd, "list_commands"):
            for name in sorted(cmd.list_commands(ctx)):
                sub = cmd.get_command(ctx, name)
                if sub is not None:
                    walk(sub, [*path, name])

    walk(command, ["keepsake"])
    return "\n".join(sections)


def privacy_markdown() -> str:
    """docs/privacy.md: purposes, ledger actions and retention from the code's defaults."""
    from keepsake.consent.policy import privacy_markdown as statement

    return statement(Settings.model_construct())


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    (DOCS / "configuration.md").write_text(configuration_markdown())
    (DOCS / "cli.md").write_text(cli_markdown())
    (DOCS / "privacy.md").write_text(privacy_markdown())
    sys.stdout.write("wrote docs/configuration.md, docs/cli.md and docs/privacy.md\n")


if __name__ == "__main__":
    main()
