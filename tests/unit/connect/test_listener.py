"""The one-shot OAuth redirect listener: code on a matching state, refusals otherwise."""

from __future__ import annotations

import logging

import httpx
import pytest

from hubforce.connect.listener import CallbackError, CallbackListener


def test_matching_state_hands_back_the_code_and_logs_nothing(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.DEBUG), CallbackListener("s1") as listener:
        assert listener.redirect_uri == f"http://127.0.0.1:{listener.port}/callback"
        page = httpx.get(listener.redirect_uri, params={"code": "the-code", "state": "s1"})
        assert page.status_code == 200 and "hubforce: connected" in page.text
        assert listener.wait(timeout=5) == "the-code"
    # (the test's own httpx client logs its request URL; the listener must log nothing)
    ours = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert all("the-code" not in r.getMessage() for r in ours)
    assert "the-code" not in capsys.readouterr().err


def test_other_paths_are_404_and_do_not_end_the_wait() -> None:
    with CallbackListener("s1") as listener:
        base = f"http://127.0.0.1:{listener.port}"
        assert httpx.get(f"{base}/favicon.ico").status_code == 404
        httpx.get(listener.redirect_uri, params={"code": "c2", "state": "s1"})
        assert listener.wait(timeout=5) == "c2"


def test_a_refused_consent_is_an_error_with_the_servers_reason() -> None:
    with CallbackListener("s1") as listener:
        page = httpx.get(
            listener.redirect_uri,
            params={
                "error": "access_denied",
                "error_description": "end-user denied",
                "state": "s1",
            },
        )
        assert page.status_code == 400
        with pytest.raises(CallbackError) as caught:
            listener.wait(timeout=5)
    assert caught.value.message == "the authorization was refused: end-user denied"


def test_only_the_first_redirect_counts() -> None:
    with CallbackListener("s1") as listener:
        httpx.get(listener.redirect_uri, params={"code": "first", "state": "s1"})
        httpx.get(listener.redirect_uri, params={"code": "second", "state": "s1"})
        assert listener.wait(timeout=5) == "first"


def test_no_redirect_in_time_is_an_error_saying_what_to_do() -> None:
    with CallbackListener("s1") as listener, pytest.raises(CallbackError) as caught:
        listener.wait(timeout=0.05)
    assert "no redirect came back" in caught.value.message
    assert "--timeout" in caught.value.hint


def test_a_port_in_use_is_a_clear_error() -> None:
    with CallbackListener("s1") as first, pytest.raises(CallbackError) as caught:
        CallbackListener("s2", port=first.port)
    assert "--port" in caught.value.hint
