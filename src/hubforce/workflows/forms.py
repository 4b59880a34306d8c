"""Form submissions as HubSpot's submissions API returns them, and how a form trigger finds one.

`GET /form-integrations/v1/submissions/forms/{formGuid}?limit=50&after=` answers
`{"results": [{"conversionId", "submittedAt", "values": [{"name", "value"}], "pageUrl"}],
"paging": {"next": {"after"}}}`, newest first (reference section 8; the shape is unconfirmed
against a live portal, so `parse_submission_page` checks it and refuses anything else with a
`SubmissionsShapeError` instead of guessing).

A submission is identified, whichever path sees it first (webhook or catch-up), by the form's
GUID, the submitted e-mail (lower-cased) and `submittedAt`: `submission_key` builds the
workflow run's idempotency key from exactly these, so both paths claim the same key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from hubforce.errors import Category, ConnectorError

SUBMISSIONS_PATH = "/form-integrations/v1/submissions/forms/{form_guid}"
PAGE_SIZE = 50  # the API's maximum
# How far a contact's `recent_conversion_date` may sit from the submission's `submittedAt`
# and still be that submission (equal in the emulator; unconfirmed to the ms for HubSpot).
DATE_TOLERANCE_MS = 2_000
KEY_MAX = 255  # workflow_runs.key


class SubmissionsShapeError(ConnectorError):
    """The submissions API answered something that is not the documented shape."""

    def __init__(self, form_guid: str, detail: str) -> None:
        super().__init__(
            "hubspot",
            Category.UNKNOWN,
            f"form {form_guid}: the submissions API answered an unexpected shape ({detail})",
            api_code="UNEXPECTED_SHAPE",
            hint="nothing was skipped: the form catch-up keeps its cursor and tries again at the "
            "next reconcile; if it persists, report the answer of "
            f"GET {SUBMISSIONS_PATH.format(form_guid=form_guid)}",
        )


@dataclass(frozen=True, slots=True)
class Submission:
    """One submission of one form."""

    form_guid: str
    submitted_at: int  # epoch ms
    values: Mapping[str, str] = field(default_factory=dict)
    conversion_id: str | None = None

    @property
    def email(self) -> str | None:
        """The submitted e-mail, lower-cased as HubSpot stores it (None when not submitted)."""
        value = self.values.get("email", "").strip().lower()
        return value or None


@dataclass(frozen=True, slots=True)
class SubmissionPage:
    """One page of a form's submissions (newest first) and the `after` of the next page."""

    submissions: list[Submission]
    after: str | None = None


class SubmissionSource(Protocol):
    """Reads a form's submissions and resolves a submitted e-mail to its contact."""

    async def submissions(self, form_guid: str, after: str | None = None) -> SubmissionPage:
        """One page of the form's submissions, newest first."""

    async def contact_id(self, email: str) -> str | None:
        """The id of the HubSpot contact with this e-mail, None if there is none."""


def _millis(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def parse_submission_page(form_guid: str, body: object) -> SubmissionPage:
    """The page in `body`; raises SubmissionsShapeError on anything unexpected."""
    if not isinstance(body, dict):
        raise SubmissionsShapeError(form_guid, f"a JSON {type(body).__name__}, not an object")
    results = body.get("results")
    if not isinstance(results, list):
        raise SubmissionsShapeError(form_guid, "no 'results' list")
    submissions = [_parse_item(form_guid, index, item) for index, item in enumerate(results)]
    paging = body.get("paging")
    after: str | None = None
    if paging is not None:
        following = paging.get("next") if isinstance(paging, dict) else None
        if following is not None:
            raw = following.get("after") if isinstance(following, dict) else None
            if not isinstance(raw, str | int) or isinstance(raw, bool) or str(raw) == "":
                raise SubmissionsShapeError(form_guid, "'paging.next' without an 'after'")
            after = str(raw)
    return SubmissionPage(submissions, after)


def _parse_item(form_guid: str, index: int, item: object) -> Submission:
    if not isinstance(item, dict):
        raise SubmissionsShapeError(form_guid, f"results[{index}] is not an object")
    submitted_at = _millis(item.get("submittedAt"))
    if submitted_at is None:
        raise SubmissionsShapeError(form_guid, f"results[{index}].submittedAt is not epoch ms")
    raw_values = item.get("values")
    if not isinstance(raw_values, list):
        raise SubmissionsShapeError(form_guid, f"results[{index}].values is not a list")
    values: dict[str, str] = {}
    for pair in raw_values:
        name = pair.get("name") if isinstance(pair, dict) else None
        if not isinstance(name, str):
            raise SubmissionsShapeError(form_guid, f"results[{index}].values has an unnamed item")
        value = pair.get("value")
        values[name] = "" if value is None else str(value)
    conversion = item.get("conversionId")
    return Submission(
        form_guid,
        submitted_at,
        values,
        conversion if isinstance(conversion, str) else None,
    )


def conversion_ms(value: object) -> int | None:
    """Epoch ms of a `recent_conversion_date` value: ms digits (webhooks) or ISO (reads)."""
    millis = _millis(value)
    if millis is not None:
        return millis
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return int(parsed.timestamp() * 1000)


def matching_submission(
    submissions: Iterable[Submission],
    email: str | None,
    converted_at: int,
    tolerance_ms: int = DATE_TOLERANCE_MS,
) -> Submission | None:
    """The submission by `email` nearest to `converted_at` within the tolerance, if any."""
    wanted = (email or "").strip().lower()
    if not wanted:
        return None
    best: Submission | None = None
    for submission in submissions:
        gap = abs(submission.submitted_at - converted_at)
        if submission.email != wanted or gap > tolerance_ms:
            continue
        if best is None or gap < abs(best.submitted_at - converted_at):
            best = submission
    return best


def submission_key(workflow: str, submission: Submission) -> str:
    """The run's idempotency key: workflow + form + submitted e-mail + submittedAt."""
    email = submission.email or f"no-email-{submission.conversion_id or ''}"
    key = f"{workflow}:form:{submission.form_guid}:{email}:{submission.submitted_at}"
    if len(key) <= KEY_MAX:
        return key
    digest = hashlib.sha256(f"{submission.form_guid}:{email}".encode()).hexdigest()[:32]
    return f"{workflow}:form:{digest}:{submission.submitted_at}"[:KEY_MAX]


def submission_detail(submission: Submission) -> dict[str, Any]:
    """What a run records about its submission (no submitted values: they may be personal)."""
    return {
        "form": submission.form_guid,
        "submitted_at": submission.submitted_at,
        "conversion_id": submission.conversion_id,
    }
