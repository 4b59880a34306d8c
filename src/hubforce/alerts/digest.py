"""What to alert about: compare what was last alerted with the sync's health now (pure).

The engine's health after a cycle is a `Health` (open failure groups, connections whose
authentication failed, sides paused by the API budget). `decide(previous, current)` returns at
most one `Digest` holding one `Alert` per change (a new failure group, a failed connection, a
budget pause, and each one's recovery) and the `AlertState` to remember. A group that merely
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
    (hubspot | salesforce) why authentication failed or until when the budget pauses it."""

    groups: Mapping[str, GroupHealth] = field(default_factory=dict)
    auth_failed: Mapping[str, str] = field(default_factory=dict)
    paused: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlertState:
    """What the last alerts announced and has not recovered since (what to compare with).

    `groups` keeps each announced group's pair and category so its recovery can name them.
    """

    groups: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    auth_failed: frozenset[str] = frozenset()
    paused: frozenset[str] = frozenset()


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
        }
        parts = [f"{n} {words[kind]}{'' if n == 1 else 's'}" for kind, n in counts.items()]
        return "hubforce: " + ", ".join(parts)


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


def decide(
    previous: AlertState, current: Health, *, on_recovery: bool = True
) -> tuple[Digest | None, AlertState]:
    """The digest to send (None when nothing changed) and the state to remember after it."""
    alerts: list[Alert] = []
    for side in sorted(set(current.auth_failed) - previous.auth_failed):
        alerts.append(_auth_failed(side, current.auth_failed[side]))
    for side in sorted(set(current.paused) - previous.paused):
        alerts.append(_paused(side, current.paused[side]))
    fresh = [g for key, g in current.groups.items() if key not in previous.groups]
    for group in sorted(fresh, key=lambda g: (-g.count, g.pair, g.category, g.key)):
        alerts.append(_new_group(group))
    if on_recovery:
        for side in sorted(previous.auth_failed - set(current.auth_failed)):
            alerts.append(_auth_recovered(side))
        for side in sorted(previous.paused - set(current.paused)):
            alerts.append(_resumed(side))
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
