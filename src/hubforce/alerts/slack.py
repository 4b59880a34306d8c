"""Sending digests to a Slack incoming webhook.

The webhook URL is a secret (anyone holding it can post to the channel): it comes from the
config's `alerts.slack_webhook_url` (a `${ENV}` reference), is kept in a `SecretStr`, and never
appears in a log line or a repr. A failure to alert is logged and reported as False; it never
raises into the sync that called it.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from pydantic import SecretStr

from hubforce.alerts.digest import Alert, AlertKind, Digest
from hubforce.config.model import Alerts as AlertsConfig
from hubforce.errors import redact

log = logging.getLogger("hubforce.alerts.slack")

_ICONS = {
    AlertKind.NEW_FAILURES: ":warning:",
    AlertKind.FAILURES_RECOVERED: ":white_check_mark:",
    AlertKind.AUTH_FAILED: ":lock:",
    AlertKind.AUTH_RECOVERED: ":white_check_mark:",
    AlertKind.BUDGET_PAUSED: ":hourglass:",
    AlertKind.BUDGET_RESUMED: ":white_check_mark:",
    AlertKind.SYNC_FAILING: ":rotating_light:",
    AlertKind.SYNC_RECOVERED: ":white_check_mark:",
    AlertKind.WORKFLOWS_INTERRUPTED: ":warning:",
}
# Slack refuses a section text over 3,000 characters; an example message may be long.
_MAX_TEXT = 2_900


def _escape(text: str) -> str:
    # Slack mrkdwn treats these three as control characters; API messages are untrusted.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(alert: Alert) -> str:
    lines = [f"{_ICONS[alert.kind]} *{_escape(alert.subject)}*: {_escape(alert.text)}"]
    if alert.example:
        lines.append(f"Example: {_escape(alert.example)}")
    if alert.command:
        lines.append(f"Fix: `{_escape(alert.command)}`")
    text = "\n".join(lines)
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def render_message(digest: Digest) -> dict[str, Any]:
    """The webhook payload: a plain `text` fallback and one block per alert."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _section(alert)}}
        for alert in digest.alerts[:49]  # Slack allows 50 blocks per message
    ]
    if len(digest.alerts) > 49:
        more = len(digest.alerts) - 49
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"and {more} more: run `hubforce errors`"}],
            }
        )
    return {"text": digest.summary, "blocks": blocks}


class SlackNotifier:
    """Posts digests to one incoming-webhook URL."""

    def __init__(
        self,
        webhook_url: SecretStr | str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = webhook_url if isinstance(webhook_url, SecretStr) else SecretStr(webhook_url)
        self._timeout = timeout
        self._transport = transport

    def __repr__(self) -> str:
        return "SlackNotifier(webhook_url=[redacted])"

    def send(self, digest: Digest) -> bool:
        """Post `digest`; True if Slack accepted it. Failures are logged, never raised."""
        payload = render_message(digest)
        request = httpx.Request("POST", self._url.get_secret_value(), json=payload)
        request.extensions["timeout"] = httpx.Timeout(self._timeout).as_dict()
        try:
            # Straight to a transport: httpx.Client logs every request URL at INFO level,
            # and this URL is the secret.
            if self._transport is not None:
                response = self._transport.handle_request(request)
                response.read()
            else:
                with httpx.HTTPTransport() as transport:
                    response = transport.handle_request(request)
                    response.read()
        except httpx.HTTPError as exc:
            # The exception text may carry the URL (it holds the secret): log the type only.
            log.warning("slack alert not sent: %s", type(exc).__name__)
            return False
        if response.status_code != 200:
            log.warning(
                "slack alert refused: HTTP %s %s",
                response.status_code,
                redact(response.text[:200]),
            )
            return False
        return True


def notifier_from_config(alerts: AlertsConfig) -> SlackNotifier | None:
    """The notifier for `config.alerts`, or None when no webhook URL is configured."""
    if alerts.slack_webhook_url is None:
        return None
    return SlackNotifier(alerts.slack_webhook_url)


__all__ = ["SlackNotifier", "notifier_from_config", "render_message"]
