"""Slack delivery: messages land on a local webhook receiver; failures are logged, not raised."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from hubforce.alerts.digest import AlertState, GroupHealth, Health, decide
from hubforce.alerts.slack import SlackNotifier, notifier_from_config, render_message
from hubforce.config.model import Alerts
from hubforce.emulators.common.serve import BackgroundServer


class Receiver:
    """A stand-in Slack incoming webhook recording every JSON body posted to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200

    async def hook(self, request: Request) -> PlainTextResponse:
        self.bodies.append(await request.json())
        text = "ok" if self.status == 200 else "invalid_token"
        return PlainTextResponse(text, status_code=self.status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/services/T0/B0/secret-part", self.hook, methods=["POST"])])


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    with BackgroundServer(receiver.app()) as server:
        yield receiver, server.url + "/services/T0/B0/secret-part"


@pytest.fixture
def receiver(served: tuple[Receiver, str]) -> Receiver:
    served[0].bodies.clear()
    served[0].status = 200
    return served[0]


def _digest(count: int = 500) -> Any:
    group = GroupHealth(
        key="g1",
        pair="deals",
        category="picklist",
        api_code="INVALID_OPTION",
        count=count,
        example="HubSpot 77: <b> & co is not a valid stage",
        remediation="Add the value to the picklist map.",
    )
    digest, _ = decide(AlertState(), Health(groups={"g1": group}))
    assert digest is not None
    return digest


def test_digest_is_posted_as_one_message_with_pair_count_example_and_fix(
    served: tuple[Receiver, str], receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        assert SlackNotifier(served[1]).send(_digest(500)) is True
    assert "secret-part" not in caplog.text  # the webhook URL is a secret, even in debug logs
    (body,) = receiver.bodies
    assert body["text"] == "hubforce: 1 new failure group"
    (block,) = body["blocks"]
    text = block["text"]["text"]
    assert "*deals*: 500 deals records rejected: picklist (INVALID_OPTION)" in text
    assert "Example: HubSpot 77: &lt;b&gt; &amp; co is not a valid stage" in text
    assert "Fix: `hubforce errors --pair deals --category picklist" in text


def test_refused_webhook_is_logged_without_the_url(
    served: tuple[Receiver, str], receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.status = 403
    with caplog.at_level(logging.WARNING, logger="hubforce.alerts.slack"):
        assert SlackNotifier(SecretStr(served[1])).send(_digest()) is False
    assert len(receiver.bodies) == 1
    assert "HTTP 403 invalid_token" in caplog.text
    assert "secret-part" not in caplog.text


def test_unreachable_webhook_returns_false_and_never_logs_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    notifier = SlackNotifier(
        "https://hooks.example/services/T/B/topsecret", transport=httpx.MockTransport(refuse)
    )
    with caplog.at_level(logging.WARNING, logger="hubforce.alerts.slack"):
        assert notifier.send(_digest()) is False
    assert "ConnectError" in caplog.text and "topsecret" not in caplog.text
    assert "topsecret" not in repr(notifier)


def test_huge_digest_stays_within_slack_block_limits() -> None:
    groups = {
        f"g{i}": GroupHealth(f"g{i}", "contacts", "validation_rule", "X", i + 1, "e" * 5000)
        for i in range(60)
    }
    digest, _ = decide(AlertState(), Health(groups=groups))
    assert digest is not None
    body = render_message(digest)
    assert len(body["blocks"]) == 50
    assert body["blocks"][-1]["elements"][0]["text"] == "and 11 more: run `hubforce errors`"
    assert all(len(b["text"]["text"]) <= 3000 for b in body["blocks"][:-1])


def test_notifier_from_config_needs_a_url() -> None:
    assert notifier_from_config(Alerts()) is None
    configured = notifier_from_config(
        Alerts.model_validate(
            {"slack_webhook_url": "${HOOK}"}, context={"env": {"HOOK": "https://h.example/x"}}
        )
    )
    assert isinstance(configured, SlackNotifier)
