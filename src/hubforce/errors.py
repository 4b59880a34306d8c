"""The hubforce exception tree, failure categories and remediation hints.

```
HubforceError                 message + hint (what to do), rendered once by the CLI
  ConfigError                 file, key_path, message, hint
  ConnectorError              side, category, status, api_code, api_message, request_id
    AuthFailed                "Authentication failed: reauthorize <Side>" + the command to run
    RateLimited               retry_after (s), window (ten_seconds | secondly | daily | budget)
    Transient                 5xx, timeouts, connection errors, UNABLE_TO_LOCK_ROW
  StoreError
```

Per-record rejections are not exceptions: they are `RecordFailure` values (a batch goes on).
Every message built here passes through `redact()` so that no token or password reaches a log,
an error store or a terminal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    """Why something failed, in the user's words (issue 5's list)."""

    AUTHENTICATION = "authentication"
    RATE_LIMIT = "rate_limit"
    MISSING_FIELD = "missing_field"
    REQUIRED_FIELD = "required_field"
    PICKLIST = "picklist"
    VALIDATION_RULE = "validation_rule"
    DUPLICATE = "duplicate"
    PERMISSION = "permission"
    ASSOCIATION = "association"
    TYPE_MISMATCH = "type_mismatch"
    NOT_FOUND = "not_found"
    TRANSIENT = "transient"
    UNKNOWN = "unknown"


#: Categories a later attempt may fix without anyone changing anything.
RETRYABLE_CATEGORIES = frozenset({Category.RATE_LIMIT, Category.TRANSIENT})

_SIDE_LABELS = {"hubspot": "HubSpot", "salesforce": "Salesforce"}

_SECRET_KEYS = (
    r"access_token|refresh_token|client_secret|password|assertion|security_token|"
    r"session_?id|code|hapikey|token"
)
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"), r"\1[redacted]"),
    # form and query strings: refresh_token=...
    (re.compile(rf"(?i)\b((?:{_SECRET_KEYS})=)[^\s&,;]+"), r"\1[redacted]"),
    # JSON: "client_secret": "..."
    (re.compile(rf'(?i)("(?:{_SECRET_KEYS})"\s*:\s*")[^"]*'), r"\1[redacted]"),
    (re.compile(r"\bpat-[A-Za-z0-9-]{6,}"), "pat-[redacted]"),
    (re.compile(r"\b(00D[A-Za-z0-9]{12,15})![A-Za-z0-9._]+"), r"\1![redacted]"),
)


def redact(text: str) -> str:
    """Return `text` with bearer tokens, passwords, secrets and session ids masked."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def side_label(side: str) -> str:
    """Human name of a side ("hubspot" -> "HubSpot")."""
    return _SIDE_LABELS.get(str(side), str(side))


class HubforceError(Exception):
    """Base of every error hubforce raises on purpose; `hint` says what to do about it."""

    def __init__(self, message: str, hint: str = "") -> None:
        self.message = redact(message)
        self.hint = redact(hint)
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(HubforceError):
    """The configuration file is wrong at `key_path` (e.g. "connections.hubspot.token")."""

    def __init__(self, file: str, key_path: str, message: str, hint: str = "") -> None:
        self.file = file
        self.key_path = key_path
        where = f"{file}: {key_path}" if key_path else file
        super().__init__(f"{where}: {message}", hint)


class StoreError(HubforceError):
    """The state store could not be opened, migrated, read or written."""


class ConnectorError(HubforceError):
    """A call to one side's API failed as a whole (per-record failures are RecordFailure)."""

    def __init__(
        self,
        side: str,
        category: Category,
        message: str,
        *,
        status: int | None = None,
        api_code: str = "",
        api_message: str = "",
        request_id: str = "",
        hint: str | None = None,
    ) -> None:
        self.side = str(side)
        self.category = category
        self.status = status
        self.api_code = api_code
        self.api_message = redact(api_message)
        self.request_id = request_id
        if hint is None:
            hint = remediation(category, api_code, api_message)
        super().__init__(message, hint)

    @property
    def retryable(self) -> bool:
        """True when the same call may succeed later without a fix."""
        return self.category in RETRYABLE_CATEGORIES


class AuthFailed(ConnectorError):
    """Credentials were refused and could not be refreshed: a human must reauthorize."""

    def __init__(
        self,
        side: str,
        *,
        status: int | None = None,
        api_code: str = "",
        api_message: str = "",
        request_id: str = "",
        command: str | None = None,
    ) -> None:
        self.command = command or f"hubforce connect {side}"
        super().__init__(
            side,
            Category.AUTHENTICATION,
            f"Authentication failed: reauthorize {side_label(side)}",
            status=status,
            api_code=api_code,
            api_message=api_message,
            request_id=request_id,
            hint=f"run `{self.command}`, then sync again",
        )


class RateLimited(ConnectorError):
    """A limit is reached; nothing should be sent to this side for `retry_after` seconds."""

    def __init__(
        self,
        side: str,
        retry_after: float,
        window: str,
        *,
        status: int | None = None,
        api_code: str = "",
        api_message: str = "",
        request_id: str = "",
    ) -> None:
        self.retry_after = max(0.0, float(retry_after))
        self.window = window
        super().__init__(
            side,
            Category.RATE_LIMIT,
            f"Rate limited by {side_label(side)} ({window}): retry in {self.retry_after:.0f}s",
            status=status,
            api_code=api_code,
            api_message=api_message,
            request_id=request_id,
        )


class Transient(ConnectorError):
    """A failure that usually goes away on its own: 5xx, timeouts, locked rows."""

    def __init__(
        self,
        side: str,
        message: str,
        *,
        status: int | None = None,
        api_code: str = "",
        api_message: str = "",
        request_id: str = "",
    ) -> None:
        super().__init__(
            side,
            Category.TRANSIENT,
            message,
            status=status,
            api_code=api_code,
            api_message=api_message,
            request_id=request_id,
        )


@dataclass(frozen=True, slots=True)
class RecordFailure:
    """One record rejected by an API: stored, grouped, retried after a fix; never raised."""

    category: Category
    api_code: str
    message: str
    fields: tuple[str, ...] = ()
    remediation: str = ""
    retryable: bool = False

    @classmethod
    def of(
        cls, category: Category, api_code: str, message: str, fields: tuple[str, ...] = ()
    ) -> RecordFailure:
        """Build a failure with its remediation hint and retryability filled in."""
        return cls(
            category=category,
            api_code=api_code,
            message=redact(message),
            fields=fields,
            remediation=remediation(category, api_code, message),
            retryable=category in RETRYABLE_CATEGORIES,
        )


_BY_CODE: dict[str, str] = {
    "UNABLE_TO_LOCK_ROW": "Another process held the record; hubforce retries it automatically.",
    "CANNOT_UPDATE_CONVERTED_LEAD": (
        "The Lead was converted; hubforce follows the converted Contact on the next cycle."
    ),
    "STRING_TOO_LONG": "Shorten the value or add a length-limit transform to the field mapping.",
    "INVALID_EMAIL_ADDRESS": "Fix the email address on the source record.",
    "INVALID_EMAIL": "Fix the email address on the source record.",
    "DUPLICATE_VALUE": "Another record already holds this unique value; merge or change one.",
    "ENTITY_IS_DELETED": "The target record was deleted; restore it or let hubforce unlink it.",
    "INVALID_FIELD_FOR_INSERT_UPDATE": (
        "The field is read-only for the integration user: grant edit access or stop mapping it."
    ),
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": (
        "The integration user cannot see the related record: share it or fix the lookup."
    ),
    "REQUEST_LIMIT_EXCEEDED": (
        "The org's daily API allocation is spent; hubforce resumes when it frees up. Lower the "
        "budget share or raise the allocation."
    ),
    "MALFORMED_ID": "An id in the link store is not a valid Salesforce id; unlink the record.",
    "READ_ONLY_VALUE": "The HubSpot property is read-only; stop mapping into it.",
}

_BY_CATEGORY: dict[Category, str] = {
    Category.AUTHENTICATION: "Reauthorize the connection (`hubforce connect <side>`).",
    Category.RATE_LIMIT: "Wait for the limit window to reset; hubforce retries automatically.",
    Category.MISSING_FIELD: (
        "The field does not exist on the target: create it or remove it from the mapping."
    ),
    Category.REQUIRED_FIELD: (
        "Give the required field a value on the source record or a default in the mapping."
    ),
    Category.PICKLIST: (
        "The value is not an allowed option: add it on the target or map it in the picklist map."
    ),
    Category.VALIDATION_RULE: "A validation rule on the target refused the record: fix the data.",
    Category.DUPLICATE: (
        "A matching record already exists on the target: merge them or link them manually."
    ),
    Category.PERMISSION: "Grant the integration user access to this object or field.",
    Category.ASSOCIATION: "The related record is missing or not linked yet; sync it first.",
    Category.TYPE_MISMATCH: "The value does not fit the target type: add or fix a transform.",
    Category.NOT_FOUND: "The record no longer exists on the target; hubforce will unlink it.",
    Category.TRANSIENT: "A temporary API problem; hubforce retries automatically.",
    Category.UNKNOWN: "Read the API's message; if it persists, report it with the request id.",
}


def remediation(category: Category, api_code: str = "", message: str = "") -> str:
    """A plain-language hint for a failure: by the API's code first, then by category.

    `message` is accepted for symmetry but never branched on: vendors localize their messages.
    """
    hint = _BY_CODE.get(api_code.upper()) if api_code else None
    return hint if hint is not None else _BY_CATEGORY[category]
