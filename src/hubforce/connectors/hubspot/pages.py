"""HubSpot paging: `paging.next.after` cursors and search windows past the 10,000-result cap.

Both are small pure state machines (no I/O): the client asks for the next request, sends it,
and hands the answer back. Each stops with an error instead of looping when it cannot advance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hubforce.connectors.records import RemoteRecord
from hubforce.errors import Category, ConnectorError

SEARCH_RESULT_CAP = 10_000


class PaginationLoop(ConnectorError):
    """The API handed back a cursor it had already given: stop instead of looping forever."""

    def __init__(self, side: str, detail: str) -> None:
        super().__init__(side, Category.UNKNOWN, f"Pagination stopped: {detail}")


def next_after(body: dict[str, Any]) -> str | None:
    """The `paging.next.after` token of a list/search answer, None on the last page."""
    after = ((body.get("paging") or {}).get("next") or {}).get("after")
    return None if after in (None, "") else str(after)


class AfterCursor:
    """Follows `paging.next.after` and refuses a token it has already seen."""

    def __init__(self) -> None:
        self.after: str | None = None
        self.finished = False
        self._seen: set[str] = set()

    def advance(self, body: dict[str, Any]) -> None:
        """Move to the next page of `body`, or finish."""
        after = next_after(body)
        if after is None:
            self.finished = True
            return
        if after in self._seen:
            raise PaginationLoop("hubspot", f"cursor {after!r} repeated")
        self._seen.add(after)
        self.after = after


class SearchWindow:
    """Reads everything modified in [since, until] sorted ascending, past the 10,000 cap.

    Pages advance by offset. When the next offset would pass the cap, or when the result set
    changed size under us (a record moved out of the window, shifting offsets), the window's
    lower bound moves to the last timestamp read and paging restarts at offset 0, skipping the
    ids already returned at that timestamp: the (timestamp, id) tie-break.
    """

    def __init__(
        self,
        modified_property: str,
        *,
        since_ms: int | None,
        until_ms: int | None = None,
        page_size: int = 200,
        filters: Sequence[dict[str, Any]] = (),
    ) -> None:
        self.modified_property = modified_property
        self.lower = since_ms
        self.until = until_ms
        self.page_size = page_size
        self.filters = list(filters)
        self.offset = 0
        self.total: int | None = None
        self.finished = False
        self.last: tuple[int, str] | None = None
        self._at_last: set[str] = set()
        self._pending: list[RemoteRecord] = []
        self.windows = 1

    def request_body(self, properties: Sequence[str]) -> dict[str, Any]:
        """The search body for the next page."""
        filters = list(self.filters)
        if self.lower is not None:
            filters.append(
                {
                    "propertyName": self.modified_property,
                    "operator": "GTE",
                    "value": str(self.lower),
                }
            )
        if self.until is not None:
            filters.append(
                {
                    "propertyName": self.modified_property,
                    "operator": "LTE",
                    "value": str(self.until),
                }
            )
        body: dict[str, Any] = {
            "filterGroups": [{"filters": filters}] if filters else [],
            "sorts": [{"propertyName": self.modified_property, "direction": "ASCENDING"}],
            "properties": list(properties),
            "limit": self.page_size,
        }
        if self.offset:
            body["after"] = str(self.offset)
        return body

    def accept(self, body: dict[str, Any], records: list[RemoteRecord]) -> list[RemoteRecord]:
        """Take one answer; return its records not returned before, in (modified, id) order."""
        total = body.get("total")
        shifted = self.total is not None and isinstance(total, int) and total != self.total
        if shifted:
            # Offsets moved under us: this page may have skipped a record. Drop it and re-read
            # from the last timestamp already returned.
            self._restart()
            return []
        if isinstance(total, int) and self.offset == 0:
            self.total = total
        fresh = [r for r in records if self._is_new(r)]
        fresh.sort(key=lambda r: (r.modified_at, r.id))
        for record in fresh:
            key = (record.modified_at, record.id)
            if self.last is None or key[0] > self.last[0]:
                self._at_last = set()
            if self.last is None or key > self.last:
                self.last = key
            self._at_last.add(record.id)
        if next_after(body) is None or len(records) < self.page_size:
            self.finished = True
            return self._release(fresh, everything=True)
        next_offset = self.offset + len(records)
        if next_offset + self.page_size > SEARCH_RESULT_CAP:
            if self.last is None or (self.lower is not None and self.last[0] <= self.lower):
                raise PaginationLoop("hubspot", "more than 10,000 records share one timestamp")
            self._restart()
        else:
            self.offset = next_offset
        return self._release(fresh, everything=False)

    def _release(self, fresh: list[RemoteRecord], *, everything: bool) -> list[RemoteRecord]:
        """Hold back the records of the page's last timestamp (more may follow on the next
        page), so that what is returned is in strict (modified, id) order across pages."""
        combined = sorted([*self._pending, *fresh], key=lambda r: (r.modified_at, r.id))
        if everything or not combined:
            self._pending = []
            return combined
        top = combined[-1].modified_at
        self._pending = [r for r in combined if r.modified_at == top]
        return [r for r in combined if r.modified_at < top]

    def _is_new(self, record: RemoteRecord) -> bool:
        if self.last is None:
            return True
        if record.modified_at < self.last[0]:
            return False
        return not (record.modified_at == self.last[0] and record.id in self._at_last)

    def _restart(self) -> None:
        """Start a new window at the last timestamp read (ids seen there are skipped)."""
        if self.last is not None:
            self.lower = self.last[0]
        self.offset = 0
        self.total = None
        self.windows += 1
