"""The state machine's LMDB store: open, apply committed log entries in batches, hash, read.

`Store` is the edge between Raft and the pure `apply`: it owns the environment, initializes a
new database (allocator ranges from `StoreConfig`), and applies a batch of committed entries in
ONE write transaction (the applied index commits with them). It is not thread-safe for writes:
one applier thread calls `apply_batch`; any thread may read through `read()`, and `close()`
waits for the reads in progress (LMDB reads run without the GIL: closing under one would free
memory it is using).

Configuration that affects apply (the VNI range) is written into the database when it is
created and checked on every open: all replicas must agree on it, and a replica restored from
a snapshot takes it from the snapshot.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import lmdb

from alcor.controller.schema import (
    BOOKKEEPING_META_KEYS,
    BOOKKEEPING_TABLES,
    META_APPLIED_INDEX,
    META_SCHEMA_VERSION,
    META_VNI_RANGE,
    SCHEMA_VERSION,
    TABLES,
    Schema,
    open_env,
    u32,
)
from alcor.controller.state import changelog, ipam
from alcor.controller.state.apply import execute
from alcor.controller.state.context import Ctx
from alcor.internal import command_pb2 as cmd

DEFAULT_VNI_RANGE = (1, 0xFFFFFF)


class StoreClosed(lmdb.Error):
    """A read of a store that was closed: replaced by a snapshot install, or the member stops.
    The member's current store (`Replica.store`) serves a retry."""


@dataclasses.dataclass(frozen=True)
class StoreConfig:
    vni_range: tuple[int, int] = DEFAULT_VNI_RANGE
    map_size: int = 16 << 30  # address space reserved for the map; the file grows as needed
    # fsync on commit. With metasync off an OS crash may lose the last transaction but never
    # breaks consistency; Raft replays it (its log is the durability point). sync=False goes
    # further (no fsync: ~15-25% more commands/s here, perf/bench_state_machine.py): an OS crash
    # may lose recent transactions, which Raft replays, but LMDB only keeps integrity then if the
    # filesystem preserves write order, so such a replica may need a snapshot from a peer.
    sync: bool = True
    metasync: bool = False


class Store:
    def __init__(self, path: str, config: StoreConfig | None = None) -> None:
        self.config = config or StoreConfig()
        self._readers = threading.Condition()
        self._reading = 0  # read transactions open now (see close)
        self._closed = False
        os.makedirs(path, exist_ok=True)
        self.env = open_env(
            path, map_size=self.config.map_size, sync=self.config.sync, metasync=self.config.metasync
        )
        self.schema = Schema.open(self.env)
        self._initialize()

    def _initialize(self) -> None:
        s = self.schema
        first, last = self.config.vni_range
        with self.env.begin(write=True) as txn:
            version = txn.get(META_SCHEMA_VERSION, db=s.meta)
            if version is None:
                ctx = Ctx(s, txn, cmd.Caller(admin=True), 0)
                txn.put(META_SCHEMA_VERSION, u32(SCHEMA_VERSION), db=s.meta)
                ipam.init_vnis(ctx, first, last)
                ipam.init_macs(ctx)
                ctx.flush()
                return
            if int.from_bytes(version, "big") != SCHEMA_VERSION:
                raise ValueError(
                    f"database schema version {int.from_bytes(version, 'big')}, expected {SCHEMA_VERSION}"
                )
            stored = txn.get(META_VNI_RANGE, db=s.meta)
            if stored != u32(first) + u32(last):
                raise ValueError(
                    f"the database was created with VNI range {_range(stored)}, configured {first}..{last}"
                )

    def sync(self) -> None:
        """Flush to disk. With sync=False, Raft must call this before truncating its log past
        the applied index, so that every entry it drops is durably applied here."""
        self.env.sync(True)

    def close(self) -> None:
        with self._readers:
            self._closed = True
            self._readers.wait_for(lambda: not self._reading)
        self.env.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writes ----

    def apply_batch(
        self, entries: Iterable[tuple[int, cmd.Command | bytes]], *, applied_index: int = 0
    ) -> list[tuple[int, cmd.Result]]:
        """Apply committed entries (index, command) in one write transaction.

        Entries at or below the applied index were applied before (a replay after restart)
        and are skipped; the others must come in increasing index order. `applied_index`
        advances the applied index past trailing non-command entries (Raft no-ops,
        configuration changes). Returns (index, result) for every entry applied.
        """
        s = self.schema
        out: list[tuple[int, cmd.Result]] = []
        with self.env.begin(write=True) as txn:
            last = changelog.meta_int(s, txn, META_APPLIED_INDEX)
            for index, command in entries:
                if index <= last:
                    continue
                # `apply` writes the applied index per entry; in one transaction, once is the same
                out.append((index, execute(s, txn, command)))
                last = index
            txn.put(META_APPLIED_INDEX, max(last, applied_index).to_bytes(8, "big"), db=s.meta)
        return out

    def apply(self, index: int, command: cmd.Command) -> cmd.Result:
        """One entry in its own transaction (tests, tools); raises if `index` was applied."""
        results = self.apply_batch([(index, command)])
        if not results:
            raise ValueError(f"log index {index} is already applied")
        return results[0][1]

    # ---- reads ----

    @contextmanager
    def read(self) -> Iterator[Any]:
        """A read transaction: a consistent snapshot for the functions of `reads`."""
        with self._readers:
            if self._closed:
                raise StoreClosed("this state was closed (replaced by a snapshot, or the member is stopping)")
            self._reading += 1
        try:
            with self.env.begin() as txn:
                yield txn
        finally:
            with self._readers:
                self._reading -= 1
                if not self._reading:
                    self._readers.notify_all()

    @property
    def applied_index(self) -> int:
        with self.read() as txn:
            return changelog.meta_int(self.schema, txn, META_APPLIED_INDEX)

    @property
    def revision(self) -> int:
        with self.read() as txn:
            return changelog.current_revision(self.schema, txn)

    @property
    def compacted_revision(self) -> int:
        with self.read() as txn:
            return changelog.compacted_revision(self.schema, txn)

    def content_hash(self, *, include_bookkeeping: bool = True) -> str:
        """SHA-256 over every (table, key, value) in table and key order.

        With include_bookkeeping=False the request-id tables and the applied index are left
        out: that is `state_hash`, which a refused or replayed command must not change.
        """
        h = hashlib.sha256()
        with self.read() as txn:
            for name in sorted(TABLES):
                if not include_bookkeeping and name in BOOKKEEPING_TABLES:
                    continue
                h.update(b"T" + name.encode() + b"\x00")
                skip_meta = name == "meta" and not include_bookkeeping
                for key, value in txn.cursor(db=self.schema.table(name)):
                    if skip_meta and key in BOOKKEEPING_META_KEYS:
                        continue
                    h.update(len(key).to_bytes(4, "big") + key + len(value).to_bytes(4, "big") + value)
        return h.hexdigest()

    def state_hash(self) -> str:
        return self.content_hash(include_bookkeeping=False)


def _range(raw: bytes | None) -> str:
    if raw is None:
        return "(none)"
    return f"{int.from_bytes(raw[:4], 'big')}..{int.from_bytes(raw[4:], 'big')}"
