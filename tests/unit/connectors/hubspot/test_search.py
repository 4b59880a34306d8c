"""changed_since through the search API: windows past the 10,000 cap, ties, shifting offsets."""

from __future__ import annotations

import httpx
import pytest

from hubforce.connectors.governor import hubspot_governor
from hubforce.connectors.http import RetryPolicy
from hubforce.connectors.hubspot.auth import PrivateAppToken
from hubforce.connectors.hubspot.client import HubSpotClient
from hubforce.connectors.hubspot.pages import PaginationLoop, SearchWindow
from hubforce.connectors.hubspot.wire import record_from_wire
from tests.unit.connectors.conftest import FakeClock
from tests.unit.connectors.hubspot.fake import FakeHubSpot

pytestmark = pytest.mark.anyio

BASE = 1_700_000_000_000


def make_client(fake: FakeHubSpot, clock: FakeClock, policy: RetryPolicy) -> HubSpotClient:
    governor = hubspot_governor(sleep=clock.sleep, monotonic=clock.monotonic)
    return HubSpotClient(
        "https://api.hubapi.test",
        auth=PrivateAppToken("pat-x"),
        transport=httpx.MockTransport(fake),
        governor=governor,
        policy=policy,
    )


async def read_all(
    hs: HubSpotClient, since: int | None, until: int | None = None
) -> list[tuple[int, str]]:
    seen: list[tuple[int, str]] = []
    async for page in hs.changed_since("contacts", since, ["email"], until_ms=until):
        seen += [(r.modified_at, r.id) for r in page.records]
    return seen


async def test_search_window_moves_past_the_10k_cap_with_ties(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    fake = FakeHubSpot()
    # 10,450 records, three per millisecond, so window boundaries fall inside ties.
    for n in range(10_450):
        fake.add(str(n + 1), BASE + n // 3)
    async with make_client(fake, clock, policy) as hs:
        seen = await read_all(hs, BASE)
    assert len(seen) == 10_450
    assert len(set(seen)) == 10_450
    assert seen == sorted(seen, key=lambda k: (k[0], k[1]))
    # 200 per page: one window of 49 pages then the rest; a re-read of a few tied records only.
    assert fake.search_calls <= 10_450 // 200 + 3
    # The pacer spaced the searches at five per second, never above.
    assert clock.now - 1000.0 >= fake.search_calls / 5 - 1


async def test_records_are_in_modified_then_id_order(clock: FakeClock, policy: RetryPolicy) -> None:
    fake = FakeHubSpot()
    for rid, ts in [("5", 3), ("2", 3), ("9", 1), ("1", 2)]:
        fake.add(rid, BASE + ts)
    async with make_client(fake, clock, policy) as hs:
        pages = [p async for p in hs.changed_since("contacts", BASE, ["email"])]
    assert [r.id for r in pages[0].records] == ["9", "1", "2", "5"]
    assert pages[0].watermark == (BASE + 3, "5")
    body = httpx.Request("POST", "/", content=fake.requests[0].content).read()
    assert b'"direction":"ASCENDING"' in body.replace(b" ", b"")


async def test_until_bounds_the_window(clock: FakeClock, policy: RetryPolicy) -> None:
    fake = FakeHubSpot()
    for n in range(10):
        fake.add(str(n + 1), BASE + n)
    async with make_client(fake, clock, policy) as hs:
        seen = await read_all(hs, BASE + 2, BASE + 5)
    assert [ts - BASE for ts, _ in seen] == [2, 3, 4, 5]


async def test_a_record_leaving_the_window_mid_read_does_not_hide_another(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    fake = FakeHubSpot()
    for n in range(450):
        fake.add(str(n + 1), BASE + n)
    original = fake.search
    calls = 0

    def search_then_edit(body: dict[str, object]) -> httpx.Response:
        nonlocal calls
        calls += 1
        answer = original(body)
        if calls == 1:
            fake.add("3", BASE + 10_000)  # edited after the run started: out of window
        return answer

    fake.search = search_then_edit  # type: ignore[method-assign]
    async with make_client(fake, clock, policy) as hs:
        seen = await read_all(hs, BASE, BASE + 449)
    ids = {rid for _, rid in seen}
    assert ids == {str(n + 1) for n in range(450)}  # "3" was read before its edit; no one skipped


def test_more_than_10k_records_in_one_millisecond_stop_instead_of_looping() -> None:
    window = SearchWindow("lastmodifieddate", since_ms=BASE, page_size=200)
    fake = FakeHubSpot()
    for n in range(10_200):
        fake.add(str(n + 1), BASE)
    with pytest.raises(PaginationLoop):
        for _ in range(200):
            answer = fake.search(window.request_body(["email"])).json()
            records = [record_from_wire(o, "contacts") for o in answer["results"]]
            window.accept(answer, records)
            if window.finished:
                break
