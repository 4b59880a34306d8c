"""Record failures: one row per record, grouped by cause, retried, resolved, exported."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from hubforce.errors import Category, RecordFailure
from hubforce.store import Backoff, NewFailure, Store, normalise_message
from hubforce.store.export import CSV_COLUMNS
from hubforce.sync.model import Side
from tests.unit.store.backends import PostgresBackend, SQLiteBackend


def invalid_email(hubspot_id: str, email: str) -> NewFailure:
    return NewFailure(
        pair="contacts",
        side=Side.SALESFORCE,
        operation="create",
        category=Category.VALIDATION_RULE,
        api_code="INVALID_EMAIL_ADDRESS",
        message=f"Email: invalid email address: {email}",
        remediation="Fix the e-mail address in HubSpot.",
        hubspot_id=hubspot_id,
        fields=("Email",),
    )


def lock_timeout(hubspot_id: str, salesforce_id: str) -> NewFailure:
    return NewFailure(
        pair="contacts",
        side=Side.SALESFORCE,
        operation="update",
        category=Category.TRANSIENT,
        api_code="UNABLE_TO_LOCK_ROW",
        message=f"unable to obtain exclusive access to this record: {salesforce_id}",
        retryable=True,
        hubspot_id=hubspot_id,
        salesforce_type="Contact",
        salesforce_id=salesforce_id,
    )


@pytest.mark.parametrize(
    ("message", "pattern"),
    [
        ("Email: invalid email address: not an email", "Email: invalid email address: <value>"),
        (
            "bad value for restricted picklist field: Gold",
            "bad value for restricted picklist field: <value>",
        ),
        (
            "Contact already exists. Existing ID: 179556362935",
            "Contact already exists. Existing ID: <value>",
        ),
        ("malformed id 001RM000003oLrB000", "malformed id <id>"),
        ("Required fields are missing: [Company]", "Required fields are missing: [Company]"),
        (
            "No such column 'foo' on sobject of type Bar",
            "No such column 'foo' on sobject of type Bar",
        ),
        ("Owner  ada@example.com\\n is inactive", "Owner <email>\\n is inactive"),
        ("Session expired or invalid", "Session expired or invalid"),
    ],
)
def test_messages_are_normalised_to_their_cause(message: str, pattern: str) -> None:
    assert normalise_message(message) == pattern


def test_backoff_doubles_from_its_base_up_to_its_cap() -> None:
    backoff = Backoff(base_ms=1_000, cap_ms=5_000)

    assert [backoff.delay(n) for n in (1, 2, 3, 4, 40)] == [1_000, 2_000, 4_000, 5_000, 5_000]


class FailuresContract:
    def test_a_record_failing_again_updates_its_row_and_counts_attempts(self, store: Store) -> None:
        store.failures.record_many([invalid_email("101", "x")], now=1_000)
        store.failures.record_many([invalid_email("101", "y")], now=5_000)

        (failure,) = store.failures.find()
        assert (failure.first_seen, failure.last_seen, failure.attempts) == (1_000, 5_000, 2)
        assert failure.message == "Email: invalid email address: y"
        assert (failure.category, failure.api_code, failure.fields) == (
            "validation_rule",
            "INVALID_EMAIL_ADDRESS",
            ("Email",),
        )
        assert (failure.side, failure.hubspot_id, failure.salesforce_id) == (
            Side.SALESFORCE,
            "101",
            None,
        )

    def test_failures_with_the_same_cause_form_one_group_with_an_example(
        self, store: Store
    ) -> None:
        store.failures.record_many(
            [invalid_email(str(n), f"bad-{n}") for n in range(3)]
            + [lock_timeout("900", "003000000000000900")],
            now=1_000,
        )

        groups = store.failures.groups()
        assert [(g.category, g.api_code, g.count) for g in groups] == [
            ("validation_rule", "INVALID_EMAIL_ADDRESS", 3),
            ("transient", "UNABLE_TO_LOCK_ROW", 1),
        ]
        emails = groups[0]
        assert emails.pattern == "Email: invalid email address: <value>"
        assert emails.example.message.startswith("Email: invalid email address: bad-")
        assert emails.example.remediation == "Fix the e-mail address in HubSpot."
        assert [g.count for g in store.failures.groups(category="transient")] == [1]
        assert store.failures.counts() == {"validation_rule": 3, "transient": 1}

    def test_transient_failures_are_retryable_once_their_backoff_elapsed(
        self, store: Store
    ) -> None:
        store.failures.record_many(
            [lock_timeout("900", "003000000000000900"), invalid_email("101", "x")], now=0
        )
        delay = store.failures.backoff.delay(1)

        assert store.failures.retryable(now=delay - 1) == []
        due = store.failures.retryable(now=delay)
        assert [f.hubspot_id for f in due] == ["900"]

        store.failures.record_many([lock_timeout("900", "003000000000000900")], now=delay)
        assert store.failures.retryable(now=2 * delay) == []  # second backoff is longer
        assert len(store.failures.retryable(now=delay + store.failures.backoff.delay(2))) == 1

    def test_permanent_failures_wait_for_a_retry_request(self, store: Store) -> None:
        store.failures.record_many([invalid_email("101", "x"), invalid_email("102", "y")], now=0)
        assert store.failures.retryable(now=10**12) == []

        assert store.failures.request_retry(category="validation_rule") == 2

        assert sorted(f.hubspot_id or "" for f in store.failures.retryable(now=1)) == ["101", "102"]
        store.failures.record_many([invalid_email("101", "x")], now=2)  # failed again
        assert [f.hubspot_id for f in store.failures.retryable(now=3)] == ["102"]

    def test_resolved_failures_leave_the_groups_and_a_relapse_starts_over(
        self, store: Store
    ) -> None:
        store.failures.record_many(
            [invalid_email("101", "x"), lock_timeout("900", "003000000000000900")], now=10
        )

        assert store.failures.resolve("contacts", hubspot_ids=["101"], now=20) == 1
        assert store.failures.resolve("contacts", salesforce_ids=["003000000000000900"]) == 1
        assert store.failures.groups() == []
        assert len(store.failures.find(include_resolved=True)) == 2

        store.failures.record_many([invalid_email("101", "x")], now=30)
        (relapse,) = store.failures.find()
        assert (relapse.attempts, relapse.first_seen, relapse.resolved_at) == (1, 30, None)

    def test_resolve_can_be_limited_to_one_side(self, store: Store) -> None:
        to_hubspot = NewFailure(
            "contacts", Side.HUBSPOT, "update", "picklist", "bad option", hubspot_id="101"
        )
        store.failures.record_many([invalid_email("101", "x"), to_hubspot])

        assert store.failures.resolve("contacts", hubspot_ids=["101"], side=Side.HUBSPOT) == 1
        assert [f.side for f in store.failures.find()] == [Side.SALESFORCE]

    def test_failures_are_built_from_connector_record_failures(self, store: Store) -> None:
        rejected = RecordFailure.of(
            Category.REQUIRED_FIELD,
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [Company]",
            ("Company",),
        )
        failure = NewFailure.of(
            rejected, pair="contacts", side=Side.SALESFORCE, operation="create", hubspot_id="7"
        )
        store.failures.record_many([failure])

        (stored,) = store.failures.find()
        assert (stored.category, stored.api_code, stored.fields) == (
            "required_field",
            "REQUIRED_FIELD_MISSING",
            ("Company",),
        )
        assert stored.remediation == rejected.remediation != ""
        assert stored.retryable is False

    def test_export_csv_writes_one_row_per_failure_safe_for_spreadsheets(
        self, store: Store, tmp_path: Path
    ) -> None:
        formula = NewFailure(
            "deals", Side.HUBSPOT, "update", "unknown", "=HYPERLINK(1)", hubspot_id="5"
        )
        store.failures.record_many([invalid_email("101", "x"), formula], now=0)
        path = tmp_path / "errors.csv"

        assert store.failures.export_csv(path) == 2
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))

        assert tuple(rows[0]) == CSV_COLUMNS
        by_pair = {row["pair"]: row for row in rows}
        assert by_pair["contacts"]["api_code"] == "INVALID_EMAIL_ADDRESS"
        assert by_pair["contacts"]["first_seen"] == "1970-01-01T00:00:00+00:00"
        assert by_pair["deals"]["message"] == "'=HYPERLINK(1)"
        assert store.failures.export_csv(tmp_path / "none.csv", category="picklist") == 0


class TestFailuresSQLite(FailuresContract, SQLiteBackend):
    pass


class TestFailuresPostgres(FailuresContract, PostgresBackend):
    pass
