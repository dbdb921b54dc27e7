"""Docs that cannot drift: generated references match the code, every setting documented."""

from __future__ import annotations

from keepsake.config import Settings
from keepsake.docs import DOCS, cli_markdown, configuration_markdown


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    for name, field in Settings.model_fields.items():
        assert f"`KEEPSAKE_{name.upper()}`" in text, name
        assert field.description, f"{name} has no description"


def test_configuration_reference_is_current() -> None:
    assert (DOCS / "configuration.md").read_text() == configuration_markdown(), "run make docs"


def test_cli_reference_is_current() -> None:
    assert (DOCS / "cli.md").read_text() == cli_markdown(), "run make docs"


def test_readme_starts_with_the_two_setup_commands() -> None:
    readme = (DOCS.parent / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make run" in first_block and "make test" in first_block
