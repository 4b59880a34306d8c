"""Alerts: a digest of what changed in the sync's health, sent to a Slack incoming webhook.

`digest.decide` is pure (previous state + health -> digest + new state); `state` reads health
from the store and remembers what was announced; `slack` delivers.
"""

from hubforce.alerts.digest import (
    Alert,
    AlertKind,
    AlertState,
    Digest,
    GroupHealth,
    Health,
    decide,
)
from hubforce.alerts.signals import Signals, signals_from_outcome
from hubforce.alerts.slack import SlackNotifier, notifier_from_config, render_message
from hubforce.alerts.state import (
    alert_after_attempt,
    current_health,
    load_state,
    save_state,
)

__all__ = [
    "Alert",
    "AlertKind",
    "AlertState",
    "Digest",
    "GroupHealth",
    "Health",
    "Signals",
    "SlackNotifier",
    "alert_after_attempt",
    "current_health",
    "decide",
    "load_state",
    "notifier_from_config",
    "render_message",
    "save_state",
    "signals_from_outcome",
]
