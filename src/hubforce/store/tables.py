"""The state store's tables (SQLAlchemy Core).

Times are epoch milliseconds (BigInteger) everywhere, so comparisons never depend on a
database's timezone handling. JSON columns are TEXT written by `codec` (exact round trips of
canonical values); the migration in `migrations/versions` creates exactly these tables, and a
test compares the migrated schema with this metadata.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from hubforce.store.codec import JsonText

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
    Column("counts", JsonText, nullable=False),
    Column("message", Text, nullable=True),
    Index(None, "started_at"),
)

# One row per linked pair of records. Invariant 1 (no duplicates) lives in the two unique
# constraints: a HubSpot record and a Salesforce record each appear in at most one link per pair.
links = Table(
    "links",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pair", String(64), nullable=False),
    Column("hubspot_id", String(64), nullable=False),
    Column("salesforce_type", String(64), nullable=False),
    Column("salesforce_id", String(32), nullable=False),
    # Both sides' last-synced canonical values (codec.dumps_snapshot); NULL until first sync.
    Column("snapshot", Text, nullable=True),
    Column("deleted_on", String(16), nullable=True),
    Column("deleted_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("pair", "hubspot_id"),
    # salesforce_id first after pair so lookups by (pair, salesforce_id) use this index.
    UniqueConstraint("pair", "salesforce_id", "salesforce_type"),
)

cursors = Table(
    "cursors",
    metadata,
    Column("pair", String(64), nullable=False),
    Column("side", String(16), nullable=False),
    Column("value", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("pair", "side"),
)

intents = Table(
    "intents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pair", String(64), nullable=False),
    Column("target_side", String(16), nullable=False),
    Column("source_id", String(64), nullable=False),
    Column("source_type", String(64), nullable=True),
    Column("target_type", String(64), nullable=True),
    Column("idempotency_key", String(128), nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="SET NULL"), nullable=True),
    Column("status", String(16), nullable=False),
    Column("target_id", String(64), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("resolved_at", BigInteger, nullable=True),
    UniqueConstraint("pair", "target_side", "source_id"),
    Index(None, "status", "pair"),
)

failures = Table(
    "failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pair", String(64), nullable=False),
    Column("side", String(16), nullable=False),
    Column("operation", String(16), nullable=False),
    Column("record_key", String(200), nullable=False),
    Column("hubspot_id", String(64), nullable=True),
    Column("salesforce_type", String(64), nullable=True),
    Column("salesforce_id", String(32), nullable=True),
    Column("category", String(32), nullable=False),
    Column("api_code", String(128), nullable=True),
    Column("message", Text, nullable=False),
    Column("fields", JsonText, nullable=False),
    Column("remediation", Text, nullable=False),
    Column("retryable", Boolean, nullable=False),
    Column("group_key", String(40), nullable=False),
    Column("group_pattern", Text, nullable=False),
    Column("first_seen", BigInteger, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=True),
    Column("retry_requested", Boolean, nullable=False),
    Column("resolved_at", BigInteger, nullable=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="SET NULL"), nullable=True),
    UniqueConstraint("pair", "side", "record_key"),
    Index(None, "group_key"),
    Index(None, "resolved_at", "next_attempt_at"),
)

audit = Table(
    "audit",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="SET NULL"), nullable=True),
    Column("at", BigInteger, nullable=False),
    Column("pair", String(64), nullable=False),
    Column("side", String(16), nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("field", String(128), nullable=False),
    Column("old_value", JsonText, nullable=True),
    Column("new_value", JsonText, nullable=True),
    Column("rule", String(64), nullable=False),
    Index(None, "run_id"),
    Index(None, "pair", "side", "record_id"),
)

credentials = Table(
    "credentials",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# Workflow runs (hubforce run). The key is the run's idempotency key (workflow + the trigger
# change's identity): claiming it is an INSERT, so a redelivered webhook finds it taken even
# across processes. `detail` holds trigger, inputs, action results and the error. `released`:
# the run failed before any effect and gave its key back (claimable again); a `waiting` run is
# retried at `next_attempt_at` (migration 0003).
workflow_runs = Table(
    "workflow_runs",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("workflow", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
    Column("detail", JsonText, nullable=False),
    Column("released", Boolean, nullable=False, server_default=false()),
    Column("attempts", Integer, nullable=False, server_default="1"),
    Column("next_attempt_at", BigInteger, nullable=True),
    # Until when a `running` claim holds its key (renewed before each action); NULL for a
    # finished run, and for claims made before migration 0004.
    Column("lease_until", BigInteger, nullable=True),
    Index(None, "started_at"),
    Index(None, "status", "next_attempt_at"),
)
