"""The metadata database: SQLite in WAL mode with one writer by default, PostgreSQL by URL.

Reads run on pooled connections; every write goes through `Database.write()`, which on
SQLite holds one process-wide lock so writers queue in Python instead of failing with
"database is locked". A write opened inside another on the same thread would wait for that
lock forever: it is refused at once instead (`NestedWriteError`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
# Marks a session that `Database.write()` opened (in `Session.info`), for code that must be
# handed a write transaction rather than a read session (the ledger's `append`).
WRITE_SESSION = "keepsake.write"


class NestedWriteError(RuntimeError):
    """A write transaction was opened inside another on the same thread. On SQLite (one
    writer) it would deadlock; do the work in the outer transaction instead."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL is durable in WAL mode across application crashes; only an OS crash may lose
    # the last transactions, and originals are fsynced before their row is written.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted rows are overwritten with zeros, so a deleted account's wrapped key does not
    # linger in free pages (crypto-shredding); many builds default to it, not all.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Database:
    """Engine, sessions and migrations for one database URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine: Engine = _sqlite_engine(url, begin="BEGIN")
            # All writes share one connection that begins with BEGIN IMMEDIATE: one writer,
            # and a second process (the CLI) waits on busy_timeout instead of failing.
            self._write_engine = _sqlite_engine(url, begin="BEGIN IMMEDIATE", pool_size=1)
        else:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=10)
            self._write_engine = self.engine
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)
        self._write_lock = threading.Lock()
        self._writing = threading.local()

    @property
    def in_write(self) -> bool:
        """Whether this thread is inside a `write()` block."""
        return bool(getattr(self._writing, "depth", 0))

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; nothing it does is committed. Closing (not rolling back)
        keeps the loaded objects usable after the block."""
        with self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose work is committed when the block ends, or rolled back on error.
        On SQLite, opening one inside another on the same thread raises `NestedWriteError`
        (it would wait for its own lock forever)."""
        if self.is_sqlite and self.in_write:
            raise NestedWriteError(
                "db.write() inside db.write() on one thread: SQLite has one writer, so this "
                "would wait for itself forever; use the outer transaction's session."
            )
        depth = getattr(self._writing, "depth", 0)
        self._writing.depth = depth + 1
        try:
            if self.is_sqlite:
                with self._write_lock, self._write_sessions() as session, session.begin():
                    session.info[WRITE_SESSION] = True
                    yield session
            else:
                with self._write_sessions() as session, session.begin():
                    session.info[WRITE_SESSION] = True
                    yield session
        finally:
            self._writing.depth = depth

    def migrate(self) -> None:
        """Bring the schema to the newest revision."""
        with self.engine.begin() as connection:
            config = alembic_config(self.url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()
        self._write_engine.dispose()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _sqlite_engine(url: str, *, begin: str, pool_size: int = 5) -> Engine:
    engine = create_engine(
        url, connect_args={"check_same_thread": False}, pool_size=pool_size, max_overflow=4
    )

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite defers BEGIN on its own; take over so the transaction starts where
        # SQLAlchemy says and writers take the lock up front.
        dbapi_connection.isolation_level = None
        _sqlite_pragmas(dbapi_connection, _record)

    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)
    return engine
