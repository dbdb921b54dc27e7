"""`keepsake` commands: serve, user, api-key, backup, consent, ledger, retention,
import-takeout."""

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
keys_app = typer.Typer(help="Manage the encryption keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


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


@user_app.command("delete")
def user_delete(
    email: Annotated[str, typer.Argument(help="The account to delete.")],
    now: Annotated[
        bool,
        typer.Option("--now", help="Purge at once instead of after the grace period."),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete an account and everything in it, after the grace period or --now.

    The account is disabled at once and purged, its encryption key destroyed, after
    KEEPSAKE_ACCOUNT_DELETION_GRACE_DAYS; until then `keepsake user cancel-deletion` undoes it."""
    from keepsake.app import build_container
    from keepsake.crypto.errors import CryptoError

    when = "now" if now else "after the grace period"
    if not yes and not typer.confirm(f"Delete {email} and all of its photos for good, {when}?"):
        raise typer.Exit(1)
    try:
        container = build_container(_settings())
    except CryptoError as exc:
        raise _fail(str(exc)) from exc
    try:
        user_id = container.accounts.user_id_for(email)
        state = container.accounts.admin_request_deletion(None, user_id, immediate=now)
    except KeepsakeError as exc:
        raise _fail(exc.detail) from exc
    finally:
        container.close()
    if now:
        typer.echo(f"deleted {email}")
    else:
        purge = state.purge_after.isoformat(timespec="seconds")
        typer.echo(f"{email} is disabled and will be deleted after {purge}")


@user_app.command("cancel-deletion")
def user_cancel_deletion(
    email: Annotated[str, typer.Argument(help="The account whose deletion to cancel.")],
) -> None:
    """Cancel a scheduled deletion (before its purge) and enable the account again."""
    from keepsake.app import build_container

    container = build_container(_settings())
    try:
        container.accounts.admin_cancel_deletion(None, container.accounts.user_id_for(email))
    except KeepsakeError as exc:
        raise _fail(exc.detail) from exc
    finally:
        container.close()
    typer.echo(f"the deletion of {email} is cancelled")


@keys_app.command("rotate")
def keys_rotate(
    new_key_file: Annotated[
        Path | None,
        typer.Option(
            help="Write the new master key here instead of replacing the key file (needed "
            "when the key comes from KEEPSAKE_MASTER_KEY); then install it yourself."
        ),
    ] = None,
) -> None:
    """Re-wrap every user key under a new master key (blobs are not re-encrypted).

    Stop the server first when the master key comes from the environment. Safe to re-run
    after an interruption: it finishes or undoes what was left half done."""
    from keepsake.app import build_container
    from keepsake.auth.audit import Event
    from keepsake.crypto.errors import CryptoError

    try:
        container = build_container(_settings())
    except CryptoError as exc:
        raise _fail(str(exc)) from exc
    try:
        rotation = container.keys.rotate(new_key_file)
        container.audit.record(
            Event.MASTER_KEY_ROTATED,
            old_key_id=rotation.old_key_id,
            new_key_id=rotation.new_key_id,
            rewrapped=rotation.rewrapped,
        )
    except (CryptoError, OSError) as exc:
        raise _fail(str(exc)) from exc
    finally:
        container.close()
    typer.echo(
        f"master key {rotation.old_key_id} -> {rotation.new_key_id}: "
        f"{rotation.rewrapped} user keys re-wrapped"
    )
    if new_key_file is not None:
        typer.echo(
            f"the new key is in {rotation.key_file}: configure it (KEEPSAKE_MASTER_KEY or "
            "KEEPSAKE_MASTER_KEY_FILE), restart Keepsake, then delete the old key"
        )
    else:
        typer.echo(f"{rotation.key_file} now holds the new key; back it up, apart from the data")


@keys_app.command("migrate")
def keys_migrate() -> None:
    """Encrypt every blob stored before encryption at rest was on (the server also does this
    in the background after such a start). Safe to interrupt and re-run."""
    from keepsake.app import build_container
    from keepsake.auth.audit import Event
    from keepsake.crypto.errors import CryptoError

    try:
        container = build_container(_settings())
    except CryptoError as exc:
        raise _fail(str(exc)) from exc
    try:
        result = container.keys.encrypt_legacy_blobs()
        container.audit.record(
            Event.BLOBS_ENCRYPTED,
            encrypted=result.encrypted,
            already=result.already,
            skipped=result.skipped,
        )
    except CryptoError as exc:
        raise _fail(str(exc)) from exc
    finally:
        container.close()
    typer.echo(
        f"{result.encrypted} blobs encrypted, {result.already} were already, "
        f"{result.skipped} without an owner key left as they are"
    )


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


# --- consent, the ledger, retention, takeout import (keepsake.consent) ----------------------

consent_app = typer.Typer(help="See, give and withdraw consent per purpose.", no_args_is_help=True)
ledger_app = typer.Typer(help="The data-use ledger of an account.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention and account deletion jobs.", no_args_is_help=True)
app.add_typer(consent_app, name="consent")
app.add_typer(ledger_app, name="ledger")
app.add_typer(retention_app, name="retention")


@consent_app.command("purposes")
def consent_purposes() -> None:
    """Print every purpose with the current version of its text."""
    from keepsake.consent.purposes import PURPOSES

    for purpose in PURPOSES.values():
        typer.echo(f"{purpose.name} (version {purpose.version}): {purpose.title}")
        typer.echo(f"  {purpose.text}\n")


@consent_app.command("show")
def consent_show(email: Annotated[str, typer.Argument(help="The account.")]) -> None:
    """Where an account stands with each purpose."""
    from keepsake.app import build_container

    container = build_container(_settings())
    try:
        principal = container.accounts.operator_principal(email)
        for state in container.consent.status(principal):
            if state.granted and state.record is not None:
                when = state.record.granted_at.isoformat(timespec="seconds")
                shown = f"granted {when} via {state.record.granted_via}"
            elif state.needs_renewal:
                shown = "given to an older text: not in force until accepted again"
            else:
                shown = "not granted"
            typer.echo(f"{state.purpose.name}\t{shown}")
    except KeepsakeError as exc:
        raise _fail(exc.detail) from exc
    finally:
        container.close()


@consent_app.command("grant")
def consent_grant(
    email: Annotated[str, typer.Argument(help="The account giving consent.")],
    purpose: Annotated[str, typer.Argument(help="face_recognition, people_sharing, ...")],
    yes: Annotated[
        bool, typer.Option("--yes", help="The account holder has read and accepts the text.")
    ] = False,
) -> None:
    """Record consent on behalf of the account holder, who has read the current text."""
    from keepsake.app import build_container
    from keepsake.consent.ledger import OPERATOR
    from keepsake.consent.purposes import purpose_named

    try:
        current = purpose_named(purpose)
    except KeepsakeError as exc:
        raise _fail(exc.detail) from exc
    typer.echo(f"{current.title} (version {current.version}):\n  {current.text}")
    if not yes and not typer.confirm("Does the account holder accept this text?"):
        raise typer.Exit(1)
    container = build_container(_settings())
    try:
        principal = container.accounts.operator_principal(email)
        container.consent.grant(principal, purpose, current.version, "cli", actor=OPERATOR)
    except KeepsakeError as exc:
        raise _fail(exc.detail) from exc
    finally:
        container.close()
    typer.echo(f"{email}: consent to {purpose} (version {current.version}) recorded")


@consent_app.command("withdraw")
def consent_withdraw(
    email: Annotated[str, typer.Argument(help="The account withdrawing consent.")],
    purpose: Annotated[str, typer.Argument(help="face_recognition, people_sharing, ...")],
    keep_names: Annotated[
        bool, typer.Option("--keep-names", help="Keep the names given to people.")
    ] = False,
) -> None:
    """Withdraw consent; what the purpose produced (face templates ...) is deleted now."""
    from keepsake.app import build_container
    from keepsake.consent.ledger import OPERATOR

    container = build_container(_settings())
    try:
        principal = container.accounts.operator_principal(email)
        result = container.consent.withdraw(
            principal, purpose, "cli", keep_names=keep_names, actor=OPERATOR
        )
    except KeepsakeError as exc:
        raise _fail(exc.detail) from exc
    finally:
        container.close()
    deleted = (
        ""
        if result.templates_deleted is None
        else f"; {result.templates_deleted} templates deleted"
    )
    state = "withdrawn" if result.was_granted else "was not granted"
    typer.echo(f"{email}: consent to {purpose} {state}{deleted}")


@ledger_app.command("verify")
def ledger_verify(
    user: Annotated[str, typer.Argument(help="The account, by email or id.")],
) -> None:
    """Recompute the account's hash chain; report the first broken link (exit status 1)."""
    from keepsake.app import build_container

    container = build_container(_settings())
    try:
        result = container.ledger.verify_chain(container.accounts.user_id_for(user))
    except KeepsakeError as exc:
        raise _fail(exc.detail) from exc
    finally:
        container.close()
    if not result.ok:
        typer.echo(
            f"BROKEN at entry {result.broken_at}: {result.reason} "
            f"({result.entries} entries before it are intact)"
        )
        raise typer.Exit(1)
    typer.echo(f"ok: {result.entries} entries, head {result.head_hash}")


@retention_app.command("run")
def retention_run() -> None:
    """Run the retention job and purge the accounts whose grace period is over, now."""
    from keepsake.app import build_container

    container = build_container(_settings())
    try:
        templates = container.retention.expire_inactive_templates()
        accounts = container.accounts.purge_due()
        trash = container.media.purge_expired_trash()
    finally:
        container.close()
    typer.echo(f"face templates: {templates}; account deletions: {accounts}; trash: {trash}")
    if "failed" in (templates, accounts, trash):
        raise typer.Exit(1)


@app.command("import-takeout")
def import_takeout(
    file: Annotated[Path, typer.Argument(help="A takeout archive (.zip) from a Keepsake.")],
    user: Annotated[str, typer.Option("--user", help="The account to import into (email).")],
) -> None:
    """Import a takeout into an account: photos, albums, favourites, people, face regions."""
    from keepsake.app import build_container

    if not file.is_file():
        raise _fail(f"{file} is not a file")
    container = build_container(_settings())
    try:
        principal = container.accounts.operator_principal(user)
        report = container.takeout.import_archive(principal, file, "cli")
    except KeepsakeError as exc:
        raise _fail(exc.detail) from exc
    finally:
        container.close()
    typer.echo(
        f"imported {report.assets} photos ({report.duplicates} already there), "
        f"{report.albums} albums, {report.favorites} favourites, "
        f"{report.face_regions} face regions"
    )
    if report.faces_skipped:
        typer.echo(
            f"face regions of {len(report.faces_skipped)} photos not imported: "
            f"{report.faces_skipped[0].split(': ', 1)[-1]}",
            err=True,
        )
    for failure in report.failed:
        typer.echo(f"failed: {failure}", err=True)
    if report.failed:
        raise typer.Exit(1)
