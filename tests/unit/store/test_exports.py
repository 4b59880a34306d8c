"""The package's public surface: every name in `__all__` exists, once."""

from __future__ import annotations

import hubforce.store


def test_all_names_exist_once() -> None:
    names = hubforce.store.__all__

    assert len(names) == len(set(names))
    missing = [name for name in names if not hasattr(hubforce.store, name)]
    assert missing == []
    assert {"open_store", "Store", "UnitOfWork", "SecretBox", "LinkConflict"} <= set(names)
