"""`keepsake` commands: serve, user, api-key, backup."""

from __future__ import annotations

import getpass
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from keepsake.auth.access import Scope
from keepsake.config import Settings
from keepsake.errors import KeepsakeError

app = typer.Typer(
    help="Keepsake: a self-hosted photo library and backup.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
user_app = typer.Typer(help="Manage accounts on this server.", no_args_is_help=True)
key_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(key_app, name="api-key")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "KEEPSAKE_" + "_".join(str(p) for p in error["loc"]).upper()
            typer.echo(f"error: {name}: {error['msg']}", err=True)
        raise typer.Exit(2) from exc


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run the web server, with job consumer threads inside it."""
    import uvicorn

    from keepsake.app import build_container, create_app

    settings = _settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    container = build_container(settings)
    try:
        uvicorn.run(create_app(container), host=host, port=port, log_level="warning")
    finally:
        container.close()


@app.command()
def worker(
    threads: Annotated[int, typer.Option(min=1, max=64, help="Consumer threads.")] = 2,
) -> None:
    """Run background jobs only (scale-out: KEEPSAKE_JOBS_URL=redis://...)."""
    from keepsake.app import build_container

    settings = _settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.jobs_url is None:
        typer.echo(
            "note: with the SQLite queue, `keepsake serve` already runs jobs; a separate "
            "worker shares its queue file",
            err=True,
        )
    container = build_container(settings)
    try:
        container.jobs.run_worker(threads)
    finally:
        container.close()


def _read_password(password: str | None) -> str:
    if password is not None:
        return password
    env = os.environ.get("KEEPSAKE_NEW_PASSWORD")
    if env:
        return env
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise _fail("the passwords differ")
    return first


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Argument(help="The account's email (its login name).")],
    admin: Annotated[bool, typer.Option("--admin", help="Make it an administrator.")] = False,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    password: Annotated[
        str | None,
        typer.Option(
            help="Password; prompted for (or read from stdin / KEEPSAKE_NEW_PASSWORD) when omitted."
        ),
    ] = None,
    quota: Annotated[int | None, typer.Option(help="Storage quota in bytes.")] = None,
) -> None:
    """Create an account (the first one is usually `--admin`)."""
    from keepsake.app import build_container

    secret = _read_password(password)
    container = build_container(_settings())
    try:
        user = container.auth.create_user(
            None, email, secret, display_name=name, is_admin=admin, quota_bytes=quota
        )
    except KeepsakeError as exc:
        raise _fail(exc.detail) from exc
    finally:
        container.close()
    typer.echo(f"created {'administrator' if admin else 'user'} {user.email} ({user.id})")


@user_app.command("list")
def user_list() -> None:
    """List accounts with their storage use."""
    from keepsake.app import build_container

    container = build_container(_settings())
    try:
        for user in container.auth.list_users(None):
            quota = "unlimited" if user.quota_bytes is None else f"{user.quota_bytes}"
            role = "admin" if user.is_admin else "user"
            typer.echo(f"{user.email}\t{role}\t{user.usage_bytes} bytes\tquota {quota}")
    finally:
        container.close()


@key_app.command("create")
def api_key_create(
    email: Annotated[str, typer.Argument(help="Whose key.")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "cli",
    scope: Annotated[list[Scope] | None, typer.Option(help="read, upload or full.")] = None,
) -> None:
    """Issue an API key for an account and print it (shown once)."""
    from keepsake.app import build_container

    container = build_container(_settings())
    try:
        secret = container.auth.create_api_key_for(email, name, scope or [Scope.FULL])
    except KeepsakeError as exc:
        raise _fail(exc.detail) from exc
    finally:
        container.close()
    typer.echo(secret)


@app.command()
def backup(
    directory: Annotated[Path, typer.Argument(help="Folder to back up, recursively.")],
    server: Annotated[str, typer.Option(help="Keepsake server URL.")] = "http://127.0.0.1:8000",
    api_key: Annotated[
        str | None, typer.Option(envvar="KEEPSAKE_API_KEY", help="API key (upload scope).")
    ] = None,
    cache: Annotated[
        Path | None, typer.Option(help="Checksum cache file (default: in the user's cache dir).")
    ] = None,
    jobs: Annotated[int, typer.Option(min=1, max=16, help="Parallel uploads.")] = 2,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Back up a folder: upload every supported photo the server does not have yet."""
    from keepsake.cli.backup import BackupError, run_backup

    if not api_key:
        raise _fail("an API key is needed: --api-key or KEEPSAKE_API_KEY")
    if not directory.is_dir():
        raise _fail(f"{directory} is not a folder")
    try:
        summary = run_backup(
            directory, server, api_key, cache_path=cache, workers=jobs, show_progress=progress
        )
    except BackupError as exc:
        raise _fail(str(exc)) from exc
    except KeyboardInterrupt:
        typer.echo("interrupted: run the same command again to resume", err=True)
        raise typer.Exit(130) from None
    typer.echo(summary.describe())
    if summary.failed:
        raise typer.Exit(1)
