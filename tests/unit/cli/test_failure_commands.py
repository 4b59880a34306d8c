"""`hubforce errors` and `hubforce retry` through Typer's runner on a store seeded with failures."""

from __future__ import annotations

import csv
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from hubforce.cli import app
from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.hubspot.app import create_app as create_hubspot_app
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from hubforce.emulators.salesforce.app import create_app as create_salesforce_app
from hubforce.engine.local import EMULATOR_ENV, local_config
from hubforce.store import NewFailure, open_store

runner = CliRunner()
T0 = 1_764_000_000_000  # 2025-11-24 16:00 UTC
CONFIG = """\
version: 1
connections:
  hubspot: {token: "${HS_TOKEN}"}
  salesforce:
    password: {username: u@example.com, password: "${SF_PASSWORD}"}
  store: {url: "STORE_URL"}
"""


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with open_store(url) as store:
        store.failures.record_many(
            [
                NewFailure(
                    pair="contacts",
                    side="salesforce",
                    operation="create",
                    category="required_field",
                    api_code="REQUIRED_FIELD_MISSING",
                    message="Required fields are missing: [LastName]",
                    remediation="Map a HubSpot property to LastName or set a default.",
                    hubspot_id=str(100 + i),
                )
                for i in range(12)
            ],
            now=T0,
        )
        store.failures.record_many(
            [
                NewFailure(
                    pair="deals",
                    side="hubspot",
                    operation="update",
                    category="picklist",
                    api_code="INVALID_OPTION",
                    message="=HYPERLINK(1) was not one of the allowed options",
                    remediation="Add the stage to the picklist map.",
                    hubspot_id="900",
                    salesforce_type="Opportunity",
                    salesforce_id="006000000000001AAA",
                )
            ],
            now=T0 + 3_600_000,
        )
    return url


def test_errors_lists_groups_with_count_example_and_remediation(store_url: str) -> None:
    result = runner.invoke(app, ["errors", "--store", store_url], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "REQUIRED_FIELD_MISSING" in out and "INVALID_OPTION" in out
    contacts_line = next(line for line in out.splitlines() if "REQUIRED_FIELD_MISSING" in line)
    assert "│ 12 " in contacts_line and "2025-11-24 16:00" in contacts_line
    assert "Required fields are missing: [LastName]" in out
    assert "Map a HubSpot property to LastName" in out
    assert "13 failed record(s) in 2 group(s)" in out


def test_errors_filters_by_category_and_pair(store_url: str) -> None:
    by_category = runner.invoke(
        app, ["errors", "--store", store_url, "--category", "picklist"], env={"COLUMNS": "250"}
    )
    assert by_category.exit_code == 0
    assert "INVALID_OPTION" in by_category.output
    assert "REQUIRED_FIELD_MISSING" not in by_category.output
    by_pair = runner.invoke(app, ["errors", "--store", store_url, "--pair", "companies"])
    assert by_pair.exit_code == 0
    assert "No open record failures matching the filters." in by_pair.output


def test_unknown_category_is_a_usage_error_listing_the_categories(store_url: str) -> None:
    result = runner.invoke(app, ["errors", "--store", store_url, "--category", "oops"])
    assert result.exit_code == 2
    assert "unknown category 'oops'" in result.output
    assert "required_field" in result.output


def test_export_writes_one_csv_row_per_failure_safe_for_spreadsheets(
    store_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "errors.csv"
    result = runner.invoke(app, ["errors", "--store", store_url, "--export", str(target)])
    assert result.exit_code == 0, result.output
    assert "Exported 13 failure(s)" in result.output
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 13
    deal = next(r for r in rows if r["pair"] == "deals")
    assert deal["api_code"] == "INVALID_OPTION"
    assert deal["message"] == "'=HYPERLINK(1) was not one of the allowed options"
    assert deal["salesforce_id"] == "006000000000001AAA"
    assert deal["first_seen"] == "2025-11-24T17:00:00+00:00"
    assert sorted(r["hubspot_id"] for r in rows if r["pair"] == "contacts")[0] == "100"


def test_retry_by_category_marks_only_that_category_due(store_url: str) -> None:
    result = runner.invoke(app, ["retry", "--store", store_url, "--category", "required_field"])
    assert result.exit_code == 0, result.output
    assert "12 required_field failure(s) will be retried on the next sync cycle." in result.output
    with open_store(store_url) as store:
        due = store.failures.retryable(now=T0)
    assert len(due) == 12 and {f.category for f in due} == {"required_field"}


def test_retry_all_marks_everything_and_needs_a_selection(store_url: str) -> None:
    refused = runner.invoke(app, ["retry", "--store", store_url], env={"COLUMNS": "250"})
    assert refused.exit_code == 2
    assert "give exactly one of --category C or --all" in refused.output
    result = runner.invoke(app, ["retry", "--store", store_url, "--all"])
    assert result.exit_code == 0
    assert "13 failure(s) will be retried" in result.output
    with open_store(store_url) as store:
        assert len(store.failures.retryable(now=T0)) == 13


def test_retry_all_of_one_pair_leaves_the_other_pairs_alone(store_url: str) -> None:
    result = runner.invoke(app, ["retry", "--store", store_url, "--all", "--pair", "deals"])
    assert result.exit_code == 0, result.output
    assert "1 failure(s) will be retried" in result.output
    with open_store(store_url) as store:
        due = store.failures.retryable(now=T0)
    assert [(f.pair, f.hubspot_id) for f in due] == [("deals", "900")]


def test_the_store_comes_from_the_config_file(store_url: str, tmp_path: Path) -> None:
    config = tmp_path / "hubforce.yaml"
    config.write_text(CONFIG.replace("STORE_URL", store_url))
    env = {"HS_TOKEN": "pat-na1-x", "SF_PASSWORD": "pw", "COLUMNS": "250"}
    result = runner.invoke(app, ["errors", "--config", str(config)], env=env)
    assert result.exit_code == 0, result.output
    assert "13 failed record(s) in 2 group(s)" in result.output


def test_a_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["errors", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "error:" in result.output and "hubforce init" in result.output
    assert "Traceback" not in result.output


def test_retry_now_runs_one_cycle_against_the_emulators(tmp_path: Path) -> None:
    hubspot = create_hubspot_app(HubSpotEmulatorSettings(tier="enterprise"))
    with BackgroundServer(hubspot) as hs, BackgroundServer(create_salesforce_app()) as sf:
        for url in (hs.url, sf.url):
            seeded = httpx.post(
                f"{url}/__emulator__/seed",
                json={"seed": 5, "people": 4, "companies": 2, "deals": 1},
                timeout=30,
            )
            assert seeded.status_code == 200
        store = f"sqlite:///{tmp_path / 'now.db'}"
        data = local_config(hs.url, sf.url, store).model_dump(mode="json")
        data["connections"]["hubspot"]["token"] = "${HUBSPOT_TOKEN}"
        password = data["connections"]["salesforce"]["password"]
        password["password"] = "${SALESFORCE_PASSWORD}"
        password["security_token"] = "${SALESFORCE_SECURITY_TOKEN}"
        password["client_secret"] = "${SALESFORCE_CLIENT_SECRET}"
        data["alerts"].pop("slack_webhook_url", None)
        config = tmp_path / "hubforce.yaml"
        config.write_text(yaml.safe_dump(data, sort_keys=False))
        contact = httpx.get(
            f"{hs.url}/crm/v3/objects/contacts",
            params={"limit": 1},
            headers={"Authorization": "Bearer emulator-token"},
        ).json()["results"][0]["id"]
        with open_store(store) as opened:
            opened.failures.record_many(
                [
                    NewFailure(
                        pair="contacts",
                        side="salesforce",
                        operation="create",
                        category="required_field",
                        message="Required fields are missing: [LastName]",
                        hubspot_id=contact,
                    )
                ]
            )
        env = {**EMULATOR_ENV, "COLUMNS": "250"}
        result = runner.invoke(app, ["retry", "--all", "--now", "-c", str(config)], env=env)
        assert result.exit_code == 0, result.output
        assert "1 failure(s) will be retried on the next sync cycle." in result.output
        assert "Sync run 1" in result.output
        with open_store(store) as opened:
            run = opened.runs.latest(kind="sync")
            left = opened.failures.find(include_resolved=True)
        assert run is not None and run.status == "succeeded"
        # The cycle ran and synced the record (a first cycle reads every contact anyway),
        # which resolves its failure.
        assert [(f.hubspot_id, f.resolved_at is not None) for f in left] == [(contact, True)]
