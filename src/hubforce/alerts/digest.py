"""What to alert about: compare what was last alerted with the sync's health now (pure).

The engine's health after a cycle is a `Health` (open failure groups, connections whose
authentication failed, sides paused by the API budget, and what keeps whole sync attempts
failing: API errors that outlast the retries, an unreachable state store, a bug).
`decide(previous, current)` returns at most one `Digest` holding one `Alert` per change (a new
failure group, a failed connection, a budget pause, a failing sync, and each one's recovery)
and the `AlertState` to remember. A group that merely
grows never alerts again, so 500 rejected records of one cause make one line, not 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from hubforce.errors import side_label


class AlertKind(StrEnum):
    """What changed."""

    NEW_FAILURES = "new_failures"
    FAILURES_RECOVERED = "failures_recovered"
    AUTH_FAILED = "auth_failed"
    AUTH_RECOVERED = "auth_recovered"
    BUDGET_PAUSED = "budget_paused"
    BUDGET_RESUMED = "budget_resumed"
    SYNC_FAILING = "sync_failing"
    SYNC_RECOVERED = "sync_recovered"
    WORKFLOWS_INTERRUPTED = "workflows_interrupted"


@dataclass(frozen=True, slots=True)
class GroupHealth:
    """One open failure group: its cause, size and an example record."""

    key: str
    pair: str
    category: str
    api_code: str | None
    count: int
    example: str
    remediation: str = ""


@dataclass(frozen=True, slots=True)
class Health:
    """The sync's state after a cycle: open failure groups by key, and per side
    (hubspot | salesforce) why authentication failed or until when the budget pauses it;
    `failing`: what stops whole sync attempts (hubspot | salesforce | store | engine -> the
    error's one-line description)."""

    groups: Mapping[str, GroupHealth] = field(default_factory=dict)
    auth_failed: Mapping[str, str] = field(default_factory=dict)
    paused: Mapping[str, str] = field(default_factory=dict)
    failing: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlertState:
    """What the last alerts announced and has not recovered since (what to compare with).

    `groups` keeps each announced group's pair and category so its recovery can name them.
    """

    groups: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    auth_failed: frozenset[str] = frozenset()
    paused: frozenset[str] = frozenset()
    failing: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Alert:
    """One line of a digest: what changed, about which object pair or side, and the fix."""

    kind: AlertKind
    subject: str
    text: str
    count: int = 0
    example: str = ""
    command: str = ""


@dataclass(frozen=True, slots=True)
class Digest:
    """The alerts of one decision, sent as one message."""

    alerts: tuple[Alert, ...]

    @property
    def summary(self) -> str:
        """One line for notifications ("hubforce: 2 new failure groups, 1 recovered")."""
        counts: dict[AlertKind, int] = {}
        for alert in self.alerts:
            counts[alert.kind] = counts.get(alert.kind, 0) + 1
        words = {
            AlertKind.NEW_FAILURES: "new failure group",
            AlertKind.FAILURES_RECOVERED: "failure group recovered",
            AlertKind.AUTH_FAILED: "authentication failure",
            AlertKind.AUTH_RECOVERED: "connection recovered",
            AlertKind.BUDGET_PAUSED: "budget pause",
            AlertKind.BUDGET_RESUMED: "budget resumed",
            AlertKind.SYNC_FAILING: "sync failing",
            AlertKind.SYNC_RECOVERED: "sync recovered",
            AlertKind.WORKFLOWS_INTERRUPTED: "workflow runs interrupted",
        }
        parts = [f"{n} {words[kind]}{'' if n == 1 else 's'}" for kind, n in counts.items()]
        return "hubforce: " + ", ".join(parts)


def interrupted_runs(keys: list[str]) -> Digest:
    """One alert for the workflow runs a retry pass found interrupted by a stopped process
    (an event, not a state: each run is found once, so nothing is remembered)."""
    noun = "run was" if len(keys) == 1 else "runs were"
    text = (
        f"{len(keys)} workflow {noun} interrupted by a stopped process during an action that "
        "is not safe to repeat (Slack, webhook, or a create without match_on): check whether "
        "it happened (each run's error says what)"
    )
    example = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
    alert = Alert(
        kind=AlertKind.WORKFLOWS_INTERRUPTED,
        subject="workflows",
        text=text,
        count=len(keys),
        example=example,
        command="hubforce status, then if it did not happen: "
        "hubforce retry --workflows --interrupted",
    )
    return Digest((alert,))


def _new_group(group: GroupHealth) -> Alert:
    code = f" ({group.api_code})" if group.api_code else ""
    noun = "record" if group.count == 1 else "records"
    text = f"{group.count} {group.pair} {noun} rejected: {group.category}{code}"
    if group.remediation:
        text += f". {group.remediation}"
    return Alert(
        kind=AlertKind.NEW_FAILURES,
        subject=group.pair,
        text=text,
        count=group.count,
        example=group.example,
        command=f"hubforce errors --pair {group.pair} --category {group.category}, "
        f"then after the fix: hubforce retry --category {group.category}",
    )


def _recovered_group(pair: str, category: str) -> Alert:
    return Alert(
        kind=AlertKind.FAILURES_RECOVERED,
        subject=pair,
        text=f"{pair}: the {category} failures are resolved",
    )


def _auth_failed(side: str, reason: str) -> Alert:
    label = side_label(side)
    return Alert(
        kind=AlertKind.AUTH_FAILED,
        subject=label,
        text=f"Authentication failed: reauthorize {label}. {reason}".strip(),
        command=f"hubforce connect {side}",
    )


def _auth_recovered(side: str) -> Alert:
    label = side_label(side)
    return Alert(
        kind=AlertKind.AUTH_RECOVERED,
        subject=label,
        text=f"{label} authentication works again; its sync resumed",
    )


def _paused(side: str, until: str) -> Alert:
    label = side_label(side)
    return Alert(
        kind=AlertKind.BUDGET_PAUSED,
        subject=label,
        text=f"Rate limited: the {label} API budget is spent, next sync at {until}",
        command=f"wait, or raise budgets.{side}.daily_share in the config",
    )


def _resumed(side: str) -> Alert:
    label = side_label(side)
    return Alert(
        kind=AlertKind.BUDGET_RESUMED,
        subject=label,
        text=f"{label} API budget available again; the sync resumed",
    )


#: What a `failing` subject is called in a message, and what to do about it.
_FAILING: dict[str, tuple[str, str]] = {
    "hubspot": ("HubSpot", "check status.hubspot.com; `hubforce status` shows the last run"),
    "salesforce": (
        "Salesforce",
        "check status.salesforce.com; `hubforce status` shows the last run",
    ),
    "store": ("State store", "check that the database in connections.store.url is reachable"),
    "engine": ("Sync", "an unexpected error: send the traceback in the log to the maintainers"),
}


def _failing_label(subject: str) -> tuple[str, str]:
    """(label, command) of a failing subject; `engine:<job>` names the job."""
    kind, _, job = subject.partition(":")
    label, command = _FAILING.get(kind, (subject, "`hubforce status` shows the last run"))
    return (f"{label} ({job})" if job else label), command


def _failing(subject: str, reason: str) -> Alert:
    label, command = _failing_label(subject)
    return Alert(
        kind=AlertKind.SYNC_FAILING,
        subject=label,
        text=f"Sync failing: {reason}. hubforce keeps retrying on its own",
        command=command,
    )


def _failing_recovered(subject: str) -> Alert:
    label, _ = _failing_label(subject)
    return Alert(
        kind=AlertKind.SYNC_RECOVERED,
        subject=label,
        text=f"{label}: the sync works again",
    )


def decide(
    previous: AlertState, current: Health, *, on_recovery: bool = True
) -> tuple[Digest | None, AlertState]:
    """The digest to send (None when nothing changed) and the state to remember after it."""
    alerts: list[Alert] = []
    for side in sorted(set(current.auth_failed) - previous.auth_failed):
        alerts.append(_auth_failed(side, current.auth_failed[side]))
    for side in sorted(set(current.paused) - previous.paused):
        alerts.append(_paused(side, current.paused[side]))
    for subject in sorted(set(current.failing) - previous.failing):
        alerts.append(_failing(subject, current.failing[subject]))
    fresh = [g for key, g in current.groups.items() if key not in previous.groups]
    for group in sorted(fresh, key=lambda g: (-g.count, g.pair, g.category, g.key)):
        alerts.append(_new_group(group))
    if on_recovery:
        for side in sorted(previous.auth_failed - set(current.auth_failed)):
            alerts.append(_auth_recovered(side))
        for side in sorted(previous.paused - set(current.paused)):
            alerts.append(_resumed(side))
        for subject in sorted(previous.failing - set(current.failing)):
            alerts.append(_failing_recovered(subject))
        gone = sorted(
            (pair, category, key)
            for key, (pair, category) in previous.groups.items()
            if key not in current.groups
        )
        for pair, category, _key in gone:
            alerts.append(_recovered_group(pair, category))
    state = AlertState(
        groups={key: (g.pair, g.category) for key, g in current.groups.items()},
        auth_failed=frozenset(current.auth_failed),
        paused=frozenset(current.paused),
        failing=frozenset(current.failing),
    )
    return (Digest(tuple(alerts)) if alerts else None), state


__all__ = [
    "Alert",
    "AlertKind",
    "AlertState",
    "Digest",
    "GroupHealth",
    "Health",
    "decide",
]
