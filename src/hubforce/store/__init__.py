"""The state store: links and snapshots, cursors, runs, intents, failures, audit, credentials.

SQLAlchemy 2 Core on SQLite (default) or PostgreSQL, migrated by Alembic when opened::

    store = open_store("sqlite:///hubforce.db")
    with store.transaction() as uow:          # one batch's bookkeeping, atomically
        uow.links.upsert_many(links)
        uow.audit.insert_many(entries)
        uow.cursors.set("contacts", Side.HUBSPOT, cursor)
"""

from hubforce.store.audit import AuditEntry, AuditRepository
from hubforce.store.cursors import CursorRepository
from hubforce.store.db import (
    DEFAULT_URL,
    Store,
    UnitOfWork,
    create_store_engine,
    current_revision,
    open_store,
    upgrade,
)
from hubforce.store.failures import (
    Backoff,
    FailureGroup,
    FailureRepository,
    NewFailure,
    StoredFailure,
)
from hubforce.store.grouping import normalise_message
from hubforce.store.intents import Intent, IntentRepository, IntentStatus, NewIntent
from hubforce.store.links import (
    LinkConflict,
    LinkRepository,
    RelinkOutcome,
    SalesforceMove,
    StoredLink,
)
from hubforce.store.runs import Run, RunRepository, RunStatus
from hubforce.store.secrets import KEY_ENV, CredentialRepository, SecretBox

__all__ = [
    "DEFAULT_URL",
    "KEY_ENV",
    "AuditEntry",
    "AuditRepository",
    "Backoff",
    "CredentialRepository",
    "CursorRepository",
    "FailureGroup",
    "FailureRepository",
    "Intent",
    "IntentRepository",
    "IntentStatus",
    "LinkConflict",
    "LinkRepository",
    "NewFailure",
    "NewIntent",
    "RelinkOutcome",
    "Run",
    "RunRepository",
    "RunStatus",
    "SalesforceMove",
    "SecretBox",
    "Store",
    "StoredFailure",
    "StoredLink",
    "UnitOfWork",
    "create_store_engine",
    "current_revision",
    "normalise_message",
    "open_store",
    "upgrade",
]
