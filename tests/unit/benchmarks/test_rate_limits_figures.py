"""The rate-limits benchmark's figures: which calls count in which window, and the floors."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from hubforce.sync.model import Side

PATH = Path(__file__).parents[3] / "benchmarks" / "rate_limits.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rate_limits_bench", PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_calls_are_sorted_into_hubspots_windows_and_writes() -> None:
    kind = _bench().call_kind
    assert kind(Side.HUBSPOT, "POST", "/crm/v3/objects/contacts/search") == ("search", False)
    assert kind(Side.HUBSPOT, "POST", "/crm/v3/objects/contacts/batch/read") == (
        "ten_second",
        False,
    )
    assert kind(Side.HUBSPOT, "POST", "/crm/v3/objects/contacts/batch/update") == (
        "ten_second",
        True,
    )
    assert kind(Side.SALESFORCE, "PATCH", "/services/data/v62.0/composite/sobjects") == (
        "salesforce",
        True,
    )
    assert kind(Side.SALESFORCE, "GET", "/services/data/v62.0/query") == ("salesforce", False)
    assert kind(Side.HUBSPOT, "GET", "/__emulator__/stats") is None
    assert kind(Side.SALESFORCE, "POST", "/services/oauth2/token") is None


def test_a_milestone_counts_only_the_calls_sent_until_then() -> None:
    bench = _bench()
    call = bench.Call
    log = [call(Side.HUBSPOT, "ten_second", False, t / 10, t / 10 + 0.05) for t in range(201)]
    log += [call(Side.HUBSPOT, "search", False, 30.0 + t / 5, 30.1 + t / 5) for t in range(11)]
    early = bench.milestone(21.0, log)
    assert early["calls"] == {"hubspot_ten_second": 201, "hubspot_search": 0}
    assert early["floor"] == 20.0  # 201 calls: a third window of ten seconds
    assert (early["ratio"], early["within_1_2x"]) == (1.05, True)
    late = bench.milestone(40.0, log)
    assert late["calls"] == {"hubspot_ten_second": 201, "hubspot_search": 11}
    assert late["floor_seconds"] == {"hubspot_ten_second": 20.0, "hubspot_search": 2.0}
    assert (late["ratio"], late["within_1_2x"]) == (2.0, False)
    assert bench.window_floor(100, 100, 10.0) == 0.0 and bench.window_floor(0, 5, 1.0) == 0.0


def test_a_search_from_the_runs_start_is_a_confirming_read_left_out_of_convergence() -> None:
    bench = _bench()
    body = (
        b'{"filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", '
        b'"operator": "GTE", "value": "1700000005000"}, {"propertyName": "lastmodifieddate", '
        b'"operator": "LTE", "value": "1700000009000"}]}], "limit": 200}'
    )
    assert bench.search_lower_bound(body) == 1700000005000
    assert bench.search_lower_bound(b'{"filterGroups": [], "limit": 200}') is None
    assert bench.search_lower_bound(b"not json") is None
    call = bench.Call
    log = [call(Side.HUBSPOT, "search", False, t / 5, t / 5 + 0.05) for t in range(11)]
    log += [call(Side.HUBSPOT, "search", False, 3 + t / 5, 3.1 + t / 5, True) for t in range(20)]
    assert bench.floor_of(log)["calls"]["hubspot_search"] == 31
    own = bench.milestone(10.0, log, confirming=False)
    assert own["calls"]["hubspot_search"] == 11 and own["floor"] == 2.0
