"""Fixtures for the state machine tests: a fresh LMDB store per test and a harness over it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from alcor.controller.state import Store, StoreConfig
from alcor.controller.state.testing import Harness
from alcor.internal import command_pb2 as cmd

# Tests do not test durability: no fsync per commit keeps them fast on a busy disk.
FAST = StoreConfig(sync=False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(str(tmp_path / "state"), FAST) as s:
        yield s


@pytest.fixture
def h(store: Store) -> Harness:
    return Harness(store)


@pytest.fixture
def refused(h: Harness) -> Callable[..., cmd.Error]:
    """Run a command that must fail with `code`; assert the state did not change.

    "Unchanged" is `Store.state_hash()`: every table except the request-id tables and the
    applied index, which a refused command does write (its error is recorded for replays).
    """

    def run(code: int, **kw: Any) -> cmd.Error:
        before_state, before_revision = h.store.state_hash(), h.store.revision
        result = h.run(**kw)
        assert result.HasField("error"), f"expected {cmd.ErrorCode.Name(code)}, got {result}"
        assert result.error.code == code, result.error
        assert result.revision == before_revision
        assert h.store.revision == before_revision
        assert h.store.state_hash() == before_state
        return result.error

    return run


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[Callable[..., Store]]:
    stores: list[Store] = []

    def make(name: str = "extra", config: StoreConfig | None = None) -> Store:
        s = Store(str(tmp_path / name), config or FAST)
        stores.append(s)
        return s

    yield make
    for s in stores:
        s.close()
