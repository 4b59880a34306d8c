"""The confirming tail (`engine/tail.py`): which copies it plans, how it reads in legs, and how
far it lets the HubSpot cursor move.

A fake search index stands in for HubSpot: every record has a modification stamp and the moment
it becomes searchable (index lag), and a search of `[since, until_ms]` serves, in stream
order, the records modified in that range that are searchable at the engine's clock, which the
tests move by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubforce.connectors.records import RecordPage, RemoteRecord
from hubforce.engine import tail as tail_module
from hubforce.engine.context import CycleOptions, SyncContext
from hubforce.engine.local import local_config
from hubforce.engine.runner import compile_mappings
from hubforce.engine.tail import ConfirmingTail, SeenStamps
from tests.unit.engine.fakes import T0, hs_id

OVERLAP = 5000
SIGNPOST = T0 + 100_000


def rec(n: int, modified_at: int) -> RemoteRecord:
    return RemoteRecord(hs_id(n), {"jobtitle": f"t{n}@{modified_at}"}, modified_at, "contacts")


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class FakeIndex:
    """HubSpot's search: records searchable from `indexed_at`, served `page_size` a call."""

    def __init__(self, clock: Clock, *, page_size: int = 3) -> None:
        self.clock = clock
        self.page_size = page_size
        self.entries: list[tuple[RemoteRecord, int]] = []
        self.searches: list[tuple[int, int]] = []
        self.pages = 0
        self.on_leg_end: Any = None  # called after each whole search (leg)

    def add(self, record: RemoteRecord, *, lag: int = 0) -> None:
        self.entries.append((record, record.modified_at + lag))

    async def changed_since(
        self, object_type: str, since: int, fields: Sequence[str], *, until_ms: int
    ) -> AsyncIterator[RecordPage]:
        self.searches.append((since, until_ms))
        now = self.clock()
        found = sorted(
            (
                r
                for r, indexed in self.entries
                if since <= r.modified_at <= until_ms and indexed <= now
            ),
            key=lambda r: (r.modified_at, r.id),
        )
        for start in range(0, len(found), self.page_size):
            self.pages += 1
            yield RecordPage(found[start : start + self.page_size])
        if self.on_leg_end is not None:
            self.on_leg_end()


def make_tail(
    index: FakeIndex, clock: Clock, seen: SeenStamps, *, round_size: int = 4
) -> ConfirmingTail:
    config = local_config("http://hubspot.fake", "http://salesforce.fake", "sqlite://")
    mapping = compile_mappings(config)["contacts"]
    options = CycleOptions(round_size=round_size, overlap_ms=OVERLAP, clock=clock)
    ctx = cast(SyncContext, SimpleNamespace(options=options, hubspot=index))
    return ConfirmingTail(ctx, mapping, SIGNPOST, seen)


async def drain(tail: ConfirmingTail) -> list[list[RemoteRecord]]:
    return [chunk async for chunk in tail.rest()]


# -- SeenStamps -------------------------------------------------------------------------------


def test_seen_stamps_keep_the_newest_stamp_per_id_from_plans_and_writes() -> None:
    seen = SeenStamps()
    seen.planned([rec(1, T0 + 50), rec(2, T0 + 10)])
    seen.planned([rec(1, T0 + 20)])  # an older copy never lowers the stamp
    seen.written(hs_id(2), T0 + 70)
    seen.written(hs_id(3), None)  # an answer without a stamp notes nothing

    assert not seen.is_news(rec(1, T0 + 50))  # what was planned from
    assert seen.is_news(rec(1, T0 + 51))
    # The copy the write left: compared with the snapshot (someone's edit made between the
    # cycle's read and its write is merged into it); an echo then writes nothing.
    assert seen.is_news(rec(2, T0 + 70))
    assert not seen.is_news(rec(2, T0 + 60))  # older than the write: stale
    assert seen.is_news(rec(2, T0 + 71))  # someone edited it after the write
    assert seen.is_news(rec(3, T0 + 1))  # never seen: news
    assert seen.is_news(rec(4, T0))


def test_seen_stamps_count_writes_due_in_a_window_and_signal_them() -> None:
    seen = SeenStamps()
    assert not seen.wrote and seen.due(0, 10**15) == 0
    seen.planned([rec(1, T0 + 5)])
    assert not seen.wrote and not seen.changed.is_set()  # plans are not writes
    for n, stamp in enumerate([T0 + 30, T0 + 10, T0 + 20, T0 + 20]):
        seen.written(hs_id(n), stamp)
    seen.written(hs_id(9), None)

    assert seen.wrote and seen.changed.is_set()
    assert seen.due(T0, T0 + 100) == 4
    assert seen.due(T0 + 10, T0 + 20) == 3  # both ends included
    assert seen.due(T0 + 11, T0 + 29) == 2
    assert seen.due(T0 + 21, T0 + 29) == 0
    assert seen.due(T0 + 30, T0 + 30) == 1


# -- news ---------------------------------------------------------------------------------------


def test_news_keeps_the_newest_copy_per_id_and_passes_stale_and_planned_copies_over() -> None:
    clock = Clock(SIGNPOST)
    seen = SeenStamps()
    tail = make_tail(FakeIndex(clock), clock, seen)
    seen.planned([rec(1, T0 + 10), rec(4, T0 + 40)])
    seen.written(hs_id(1), T0 + 100)  # the cycle wrote contact 1 ...
    seen.written(hs_id(2), T0 + 100)  # ... and contact 2
    seen.planned([rec(5, T0 + 100)])
    seen.written(hs_id(5), T0 + 90)  # 5: written, then planned again from a newer copy
    copies = [
        rec(1, T0 + 100),  # 1: the copy the write left: compared with the snapshot
        rec(2, T0 + 90),  # 2: older than the write (stale)
        rec(3, T0 + 110),  # 3: never touched by the cycle: news
        rec(4, T0 + 40),  # 4: the copy planned from, not written since: nothing new
        rec(5, T0 + 100),  # 5: the copy planned from, after the write: nothing new
        rec(2, T0 + 120),  # 2: edited after the engine's write: news
        rec(3, T0 + 130),  # 3 again, newer: only this copy is planned
    ]

    news = tail.news(copies)

    assert [(r.id, r.modified_at) for r in news] == [
        (hs_id(1), T0 + 100),
        (hs_id(3), T0 + 130),
        (hs_id(2), T0 + 120),
    ]
    assert tail.news([rec(1, T0 + 99), rec(1, T0 + 50)]) == []


# -- rest: chunks, legs and `reached` ---------------------------------------------------------


def test_no_leg_is_read_when_the_cycle_wrote_nothing_to_hubspot() -> None:
    clock = Clock(SIGNPOST + 60_000)
    index = FakeIndex(clock)
    index.add(rec(1, SIGNPOST + 10))
    tail = make_tail(index, clock, SeenStamps())

    assert asyncio.run(drain(tail)) == []
    assert index.searches == [] and tail.reached is None


def test_rest_hands_out_round_sized_chunks_in_stream_order_and_reaches_the_last_legs_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tail_module, "LEG_RECORDS", 4)
    clock = Clock(SIGNPOST + 20_000)
    index = FakeIndex(clock)
    seen = SeenStamps()
    stamps = [SIGNPOST - 3000 + 1000 * n for n in range(8)]
    stamps.append(SIGNPOST + 20_000 - OVERLAP // 2)  # the last write lands late
    for n, stamp in enumerate(stamps):
        index.add(rec(n, stamp))
        seen.written(hs_id(n), stamp)
    tail = make_tail(index, clock, seen, round_size=4)
    # Copies read by `follow` while the rounds ran come first, sorted.
    tail.copies = [rec(20, SIGNPOST - 4000), rec(21, SIGNPOST - 4500)]
    tail.lower = SIGNPOST - 3000

    def later() -> None:  # each leg takes a while
        clock.now += 1000

    index.on_leg_end = later
    chunks = asyncio.run(drain(tail))

    flat = [r for chunk in chunks for r in chunk]
    assert [r.id for r in flat[:2]] == [hs_id(21), hs_id(20)]
    # The late write is searched again by the second leg: a duplicate copy, harmless.
    assert sorted({r.id for r in flat[2:]}) == sorted(hs_id(n) for n in range(9))
    assert all(len(chunk) <= 4 + index.page_size for chunk in chunks)
    assert len(chunks) >= 2  # handed out a round at a time, not all at once
    # One leg found them all (>= LEG_RECORDS), the last write within `overlap_ms` of its
    # start: a second one, with nothing new, found the tail caught up.
    assert len(index.searches) == 2
    first_leg, last_leg = index.searches
    assert first_leg == (SIGNPOST - 3000, SIGNPOST + 20_000)
    # The second leg searches the first one's last `overlap_ms` again (index lag).
    assert last_leg[0] == first_leg[1] - OVERLAP + 1
    assert tail.reached == last_leg[1] - OVERLAP


def test_a_short_cycles_tail_reads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes younger than twice the overlap would be read again by the next cycle anyway
    (it starts `overlap_ms` before where the tail leaves the cursor): no search for them."""
    monkeypatch.setattr(tail_module, "LEG_RECORDS", 2)
    clock = Clock(SIGNPOST + 2 * OVERLAP + 10)
    index = FakeIndex(clock)
    seen = SeenStamps()
    for n in range(3):
        index.add(rec(n, SIGNPOST + 20 + n))  # all after the clock less twice the overlap
        seen.written(hs_id(n), SIGNPOST + 20 + n)
    tail = make_tail(index, clock, seen)

    assert asyncio.run(drain(tail)) == []
    assert index.searches == [] and tail.reached is None


def test_a_short_first_leg_ends_the_tail_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tail_module, "LEG_RECORDS", 10)
    clock = Clock(SIGNPOST + 30_000)
    index = FakeIndex(clock)
    seen = SeenStamps()
    for n in range(3):
        index.add(rec(n, SIGNPOST + n))
        seen.written(hs_id(n), SIGNPOST + n)
    tail = make_tail(index, clock, seen)
    tail.legs = 1  # `follow` read a leg while the rounds ran (nothing new since)

    chunks = asyncio.run(drain(tail))

    assert [[r.id for r in c] for c in chunks] == [[hs_id(0), hs_id(1), hs_id(2)]]
    assert index.searches == [(SIGNPOST - OVERLAP, SIGNPOST + 30_000)]
    assert tail.reached == SIGNPOST + 30_000 - OVERLAP


def test_follow_reads_a_leg_once_enough_writes_are_due_and_stays_overlap_behind_the_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tail_module, "LEG_RECORDS", 3)
    clock = Clock(SIGNPOST + 1000)
    index = FakeIndex(clock)
    seen = SeenStamps()
    tail = make_tail(index, clock, seen)
    rounds_done = asyncio.Event()

    async def cycle() -> None:
        following = asyncio.create_task(tail.follow(rounds_done))
        for n in range(2):  # two writes due: not enough for a leg
            index.add(rec(n, SIGNPOST + 100 * n))
            seen.written(hs_id(n), SIGNPOST + 100 * n)
        clock.now = SIGNPOST + 10_000
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert index.searches == []
        index.add(rec(2, SIGNPOST + 200))
        seen.written(hs_id(2), SIGNPOST + 200)  # the third: a leg starts
        for _ in range(10):
            await asyncio.sleep(0)
            if index.searches:
                break
        rounds_done.set()
        await asyncio.wait_for(following, 5)

    asyncio.run(cycle())

    assert index.searches == [(SIGNPOST - OVERLAP, SIGNPOST + 10_000 - OVERLAP)]
    assert [r.id for r in tail.copies] == [hs_id(0), hs_id(1), hs_id(2)]
    assert tail.lower == SIGNPOST + 10_000 - OVERLAP + 1


def test_a_record_not_yet_searchable_during_a_long_leg_is_not_passed_by_the_cursor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After the rounds, a leg that found a full leg's worth is followed by another one. A
    record someone edited just before the first leg began, not yet in the search index when
    that leg searched (index lag < overlap), must be read by a later leg or left behind the
    cursor for the next cycle's read (which starts `overlap_ms` before the cursor)."""
    monkeypatch.setattr(tail_module, "LEG_RECORDS", 4)
    clock = Clock(SIGNPOST + 20_000)
    index = FakeIndex(clock)
    seen = SeenStamps()
    for n in range(6):  # the cycle's own writes, all searchable, the last one just now
        stamp = SIGNPOST + 1000 * n if n < 5 else SIGNPOST + 20_000 - 200
        index.add(rec(n, stamp))
        seen.written(hs_id(n), stamp)
    # Someone's edit 100 ms before the first leg starts, searchable 300 ms later.
    edit = rec(99, SIGNPOST + 20_000 - 100)
    index.add(edit, lag=300)
    tail = make_tail(index, clock, seen, round_size=100)

    def slow_leg() -> None:  # the first leg reads a lot: it lasts longer than the overlap
        clock.now += 30_000

    index.on_leg_end = slow_leg
    chunks = asyncio.run(drain(tail))

    read = {r.id for chunk in chunks for r in chunk}
    next_read_from = max(tail.reached or 0, SIGNPOST) - OVERLAP  # the next cycle's start
    assert edit.id in read or edit.modified_at >= next_read_from, (
        f"lost: edited at {edit.modified_at}, tail legs {index.searches}, "
        f"next cycle reads from {next_read_from}"
    )
    assert edit.id in read  # read by the second leg, in this cycle
    assert len(index.searches) == 2


def test_records_searched_again_do_not_keep_the_tail_going(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cycle's last writes, within `overlap_ms` before the first leg began, are searched
    again by the second leg; they are not new, so that leg still ends the tail."""
    monkeypatch.setattr(tail_module, "LEG_RECORDS", 4)
    clock = Clock(SIGNPOST + 20_000)
    index = FakeIndex(clock)
    seen = SeenStamps()
    for n in range(12):  # four early writes, then eight in the seconds before the end
        stamp = SIGNPOST + 1000 * n if n < 4 else SIGNPOST + 16_000 + 100 * n
        index.add(rec(n, stamp))
        seen.written(hs_id(n), stamp)
    tail = make_tail(index, clock, seen, round_size=100)

    def later() -> None:
        clock.now += 1000

    index.on_leg_end = later
    chunks = asyncio.run(drain(tail))

    assert len(index.searches) == 2
    assert tail.reached == SIGNPOST + 21_000 - OVERLAP
    assert {r.id for chunk in chunks for r in chunk} == {hs_id(n) for n in range(12)}
    # The copies the writes left, each once, are compared with the snapshots.
    assert {r.id for r in tail.news([r for chunk in chunks for r in chunk])} == {
        hs_id(n) for n in range(12)
    }


def test_a_leg_begun_overlap_after_the_last_write_ends_the_tail_however_much_it_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every write is then old enough to be in the index: no second leg is needed, and the
    cursor may move to the leg's start less the overlap."""
    monkeypatch.setattr(tail_module, "LEG_RECORDS", 4)
    clock = Clock(SIGNPOST + 20_000)
    index = FakeIndex(clock)
    seen = SeenStamps()
    for n in range(9):
        stamp = SIGNPOST + 1000 * n
        index.add(rec(n, stamp))
        seen.written(hs_id(n), stamp)
    tail = make_tail(index, clock, seen, round_size=100)

    chunks = asyncio.run(drain(tail))

    assert sorted(r.id for chunk in chunks for r in chunk) == sorted(hs_id(n) for n in range(9))
    assert index.searches == [(SIGNPOST - OVERLAP, SIGNPOST + 20_000)]
    assert tail.reached == SIGNPOST + 20_000 - OVERLAP


# -- property: the record's last state is never passed over unless it was planned -----------


@st.composite
def _histories(draw: st.DrawFn) -> tuple[list[tuple[int, str]], list[int], list[int]]:
    """One record's events after the signpost (stamp, "edit" by someone | "write" by the
    cycle), the moments a round read it to plan, and the stamps of the copies the tail read."""
    kinds = draw(st.lists(st.sampled_from(["edit", "write"]), min_size=1, max_size=8))
    events = [(T0 + 10 * (n + 1), kind) for n, kind in enumerate(kinds)]
    last = events[-1][0]
    reads = draw(st.lists(st.integers(T0, last), max_size=3))
    shown = draw(st.lists(st.sampled_from([stamp for stamp, _ in events]), max_size=6))
    return events, reads, [*shown, last]  # the tail reads through the end: the last state


def _state_at(events: list[tuple[int, str]], moment: int) -> int:
    """The stamp of the record's state at `moment` (T0: as it was at the signpost)."""
    return max((stamp for stamp, _ in events if stamp <= moment), default=T0)


_TAIL: dict[int, ConfirmingTail] = {}


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_histories())
def test_the_last_state_is_planned_unless_a_round_planned_from_it(
    history: tuple[list[tuple[int, str]], list[int], list[int]],
) -> None:
    events, reads, shown = history
    seen = SeenStamps()
    seen.planned([rec(1, T0)])  # the stream copy, as of the signpost
    for moment in reads:
        seen.planned([rec(1, _state_at(events, moment))])
    writes = [stamp for stamp, kind in events if kind == "write"]
    for stamp in writes:
        seen.written(hs_id(1), stamp)
    tail = _TAIL.get(0) or _TAIL.setdefault(
        0, make_tail(FakeIndex(Clock(SIGNPOST)), Clock(SIGNPOST), SeenStamps())
    )
    tail.seen = seen  # one tail for every example: building its mappings is the slow part

    news = tail.news([rec(1, stamp) for stamp in shown])

    last = events[-1][0]
    planned_last = max(_state_at(events, moment) for moment in [T0, *reads])
    already = planned_last == last  # a round planned from the last state itself
    assert len(news) <= 1
    assert [r.modified_at for r in news] == ([] if already else [last])
    # Never a copy older than the cycle's own last write (it would undo the write).
    assert all(r.modified_at >= max(writes, default=0) for r in news)
