"""Salesforce query paging: follow `nextRecordsUrl` until `done`, refusing a repeated locator."""

from __future__ import annotations

from typing import Any

from hubforce.errors import Category, ConnectorError


class PaginationLoop(ConnectorError):
    """Salesforce handed back a locator it had already given: stop instead of looping."""

    def __init__(self, detail: str) -> None:
        super().__init__("salesforce", Category.UNKNOWN, f"Pagination stopped: {detail}")


class NextRecordsCursor:
    """State of one query: the next URL to GET, or finished."""

    def __init__(self) -> None:
        self.next_url: str | None = None
        self.finished = False
        self._seen: set[str] = set()

    def advance(self, body: dict[str, Any]) -> None:
        """Move past one answer of `/query` or `/queryAll`."""
        url = body.get("nextRecordsUrl")
        if body.get("done", True) or not url:
            self.finished = True
            self.next_url = None
            return
        if url in self._seen:
            raise PaginationLoop(f"nextRecordsUrl {url!r} repeated")
        self._seen.add(str(url))
        self.next_url = str(url)
