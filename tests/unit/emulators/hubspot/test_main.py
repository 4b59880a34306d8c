"""`hubforce emulate hubspot`: settings from flags and YAML, what it prints, bad config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hubforce.emulators.common import serve as serving
from hubforce.emulators.hubspot.main import serve


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def fake_serve_forever(app: Any, **kwargs: Any) -> None:
        calls.append({"app": app, **kwargs})

    monkeypatch.setattr(serving, "serve_forever", fake_serve_forever)
    return calls


def _serve(config: Path | None = None, **kw: Any) -> None:
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 8702,
        "tls": False,
        "config": config,
        "static_token": "cli-token",
        "tier": "starter",
        "token_lifetime": 600,
        "seed": None,
    }
    options.update(kw)
    serve(**options)


def test_prints_base_url_and_credentials(
    served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    _serve(seed=4)
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8702" in out
    assert "cli-token" in out
    assert "hubforce-emulator-client" in out and "hubforce-emulator-secret" in out
    portal = served[0]["app"].state.portal
    assert portal.settings.tier == "starter" and portal.tokens.lifetime == 600
    assert len(portal.owners) == 5  # seeded from the shared world
    assert (served[0]["host"], served[0]["port"], served[0]["certs"]) == ("127.0.0.1", 8702, None)


def test_yaml_config_sets_portal_id(served: list[dict[str, Any]], tmp_path: Path) -> None:
    config = tmp_path / "hubspot.yaml"
    config.write_text("portal_id: 777\nindex_lag_ms: 250\n")
    _serve(config=config)
    portal = served[0]["app"].state.portal
    assert portal.portal_id == 777 and portal.index_lag_ms == 250


def test_bad_config_exits_2_with_a_clear_message(
    served: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "hubspot.yaml"
    config.write_text("portal_idd: 777\n")
    with pytest.raises(SystemExit) as exc:
        _serve(config=config)
    assert exc.value.code == 2
    out = capsys.readouterr().out
    assert "Invalid HubSpot emulator settings" in out and "portal_idd" in out
    assert served == []
