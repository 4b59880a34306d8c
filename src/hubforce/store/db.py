"""Opening the state store: the engine per backend, migrations to head, units of work.

SQLite (the default, a file) runs in WAL mode with foreign keys on, and every transaction
begins IMMEDIATE so that two writers queue on the busy timeout instead of failing on a lock
upgrade. PostgreSQL is reached by URL (`postgresql+psycopg://...`), optionally inside one
schema (tests isolate themselves that way). Migrations run under a lock on both backends, so
several workers may open one store at once.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from pathlib import Path
from types import TracebackType
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from hubforce.errors import StoreError
from hubforce.store.audit import AuditRepository
from hubforce.store.cursors import CursorRepository
from hubforce.store.failures import Backoff, FailureRepository
from hubforce.store.intents import IntentRepository
from hubforce.store.links import LinkRepository
from hubforce.store.runs import RunRepository
from hubforce.store.secrets import CredentialRepository
from hubforce.store.session import Connect

DEFAULT_URL = "sqlite:///hubforce.db"
MIGRATIONS = "hubforce.store:migrations"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_MIGRATION_LOCK = 0x4855_4246  # "HUBF": pg_advisory_xact_lock key for concurrent upgrades

# The unit of work active in this context (thread or asyncio task), with the store it belongs
# to: a repository call on that store made inside `transaction()` joins it instead of opening
# a second connection (which on SQLite would wait on the first one's write lock).
_ACTIVE: ContextVar[tuple[Store, Connection] | None] = ContextVar("hubforce_store_tx", default=None)


class Repositories:
    """The repositories, all reaching the database through one `Connect`."""

    def __init__(self, connect: Connect, backoff: Backoff | None = None) -> None:
        self.links = LinkRepository(connect)
        self.cursors = CursorRepository(connect)
        self.runs = RunRepository(connect)
        self.intents = IntentRepository(connect)
        self.failures = FailureRepository(connect, backoff)
        self.audit = AuditRepository(connect)
        self.secrets = CredentialRepository(connect)


class UnitOfWork(Repositories):
    """Repositories bound to one open transaction: everything commits together or not at all."""

    def __init__(self, connection: Connection, backoff: Backoff | None = None) -> None:
        self.connection = connection
        super().__init__(lambda: nullcontext(connection), backoff)


class Store(Repositories):
    """The state store: repositories over one engine, each call its own transaction unless
    made inside `transaction()`."""

    def __init__(self, engine: Engine, *, backoff: Backoff | None = None) -> None:
        self.engine = engine
        self._backoff = backoff
        super().__init__(self._connect, backoff)

    def _connect(self) -> AbstractContextManager[Connection]:
        active = _ACTIVE.get()
        if active is not None and active[0] is self:
            return nullcontext(active[1])
        return self.engine.begin()

    @contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        """A unit of work: links, snapshots, audit, intents, failures and cursor of one batch
        commit together when the block ends, and roll back if it raises.

        Keep it short and never `await` inside it: on SQLite it holds the write lock, and any
        other connection (another task, thread or process) waits for it.
        """
        active = _ACTIVE.get()
        if active is not None and active[0] is self:  # nested: join the outer unit of work
            yield UnitOfWork(active[1], self._backoff)
            return
        with self.engine.begin() as conn:
            token = _ACTIVE.set((self, conn))
            try:
                yield UnitOfWork(conn, self._backoff)
            finally:
                _ACTIVE.reset(token)

    @property
    def backend(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self.engine.dialect.name

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _normalise_url(url: str | Path) -> URL:
    if isinstance(url, Path) or "://" not in url:
        return URL.create("sqlite", database=str(url))
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):  # psycopg 3 is the driver we ship
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_engine(url: URL, echo: bool) -> Engine:
    memory = url.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if memory:
        kwargs["poolclass"] = StaticPool
    else:
        folder = Path(str(url.database)).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder {folder} for the state store: {exc.strerror}",
                "check connections.store.url in the config and the folder's permissions",
            ) from exc
    engine = create_engine(url, echo=echo, **kwargs)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let the "begin" hook below open transactions
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL may wait too
        if not memory:
            _enable_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _enable_wal(cursor: Any, timeout: float = 30.0) -> None:
    """Switch a SQLite file to WAL, waiting out other first openers.

    WAL is a property of the file, so most opens find it already on. Switching needs a lock that
    SQLite does not wait for through its busy timeout: when several workers open a new store at
    once, the losers get "database is locked" at once, so they retry for a bounded time.
    """
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def create_store_engine(
    url: str | Path = DEFAULT_URL, *, schema: str | None = None, echo: bool = False
) -> Engine:
    """An engine for the store at `url` (a SQLite path or URL, or a PostgreSQL URL)."""
    parsed = _normalise_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if schema is not None:
            raise StoreError("a schema can only be chosen on PostgreSQL", "drop the schema")
        return _sqlite_engine(parsed, echo)
    if backend != "postgresql":
        raise StoreError(
            f"unsupported state store backend {backend!r}",
            "use a SQLite file path or a postgresql+psycopg:// URL",
        )
    connect_args: dict[str, Any] = {}
    if schema is not None:
        if not _SCHEMA_NAME.match(schema):
            raise StoreError(
                f"invalid schema name {schema!r}", "use lower-case letters, _ and digits"
            )
        connect_args["options"] = f"-c search_path={schema}"
    return create_engine(parsed, echo=echo, pool_pre_ping=True, connect_args=connect_args)


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, *, schema: str | None = None, revision: str = "head") -> None:
    """Migrate the store to `revision` (head by default), under a lock against other workers."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            if schema is not None:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        command.upgrade(_alembic_config(conn), revision)


def current_revision(engine: Engine) -> str | None:
    """The store's migration revision, or None if it was never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def open_store(
    url: str | Path = DEFAULT_URL,
    *,
    schema: str | None = None,
    backoff: Backoff | None = None,
    echo: bool = False,
) -> Store:
    """Open (creating if needed) and migrate to head the state store at `url`."""
    engine = create_store_engine(url, schema=schema, echo=echo)
    try:
        upgrade(engine, schema=schema)
    except SQLAlchemyError as exc:
        engine.dispose()
        where = engine.url.render_as_string(hide_password=True)
        detail = getattr(exc, "orig", None) or exc  # the driver's own words, without SQL
        raise StoreError(
            f"cannot open the state store at {where}: {detail}",
            "check connections.store.url in the config and that the database is running",
        ) from exc
    return Store(engine, backoff=backoff)
