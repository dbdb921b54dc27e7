"""The metadata database: SQLite in WAL mode with one writer by default, PostgreSQL by URL.

Reads run on pooled connections; every write goes through `Database.write()`, which on
SQLite holds one process-wide lock so writers queue in Python instead of failing with
"database is locked"."""

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

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; nothing it does is committed. Closing (not rolling back)
        keeps the loaded objects usable after the block."""
        with self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose work is committed when the block ends, or rolled back on error."""
        if self.is_sqlite:
            with self._write_lock, self._write_sessions() as session, session.begin():
                yield session
        else:
            with self._write_sessions() as session, session.begin():
                yield session

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
