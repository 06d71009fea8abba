"""Fixtures for the goal-state tests: this folder on sys.path (for goalstate_helpers), a store,
and a harness over it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from alcor.controller.state import Store, StoreConfig
from alcor.controller.state.testing import Harness

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

FAST = StoreConfig(sync=False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(str(tmp_path / "state"), FAST) as s:
        yield s


@pytest.fixture
def h(store: Store) -> Harness:
    return Harness(store)
