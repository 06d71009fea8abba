"""A small key-value StateMachine on LMDB for exercising RaftNode (tests and the Raft benchmark).

Commands are b"key=value"; each returns b"<index>:<previous value>". The applied index is written
in the same transaction as the data, as the controller's state machine does.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
from collections.abc import Sequence
from pathlib import Path

import lmdb

from alcor.raft.types import Entry, EntryType

APPLIED = b"\x00applied"


class KvStateMachine:
    def __init__(self, path: str | Path, sync: bool = False) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._sync = sync
        self.env = self._open(self.path)
        self.history: list[tuple[int, bytes]] = []  # (index, command) as applied by this process

    def _open(self, path: Path) -> lmdb.Environment:
        return lmdb.open(str(path), map_size=1 << 30, sync=self._sync, metasync=self._sync)

    def applied_index(self) -> int:
        with self.env.begin() as txn:
            raw = txn.get(APPLIED)
        return struct.unpack(">Q", raw)[0] if raw else 0

    def apply(self, entries: Sequence[Entry]) -> list[bytes | None]:
        out: list[bytes | None] = []
        with self.env.begin(write=True) as txn:
            for e in entries:
                if e.type != EntryType.NORMAL or not e.data:
                    out.append(None)
                    continue
                key, _, value = e.data.partition(b"=")
                prev = txn.get(key) or b""
                txn.put(key, value)
                out.append(b"%d:%s" % (e.index, prev))
                self.history.append((e.index, e.data))
            txn.put(APPLIED, struct.pack(">Q", entries[-1].index))
        return out

    def snapshot(self) -> tuple[int, bytes]:
        with tempfile.TemporaryDirectory() as tmp, self.env.begin() as txn:
            self.env.copy(tmp, compact=True, txn=txn)
            index = struct.unpack(">Q", txn.get(APPLIED) or b"\0" * 8)[0]
            return index, (Path(tmp) / "data.mdb").read_bytes()

    def restore(self, index: int, data: bytes) -> None:
        fresh = self.path.with_name(self.path.name + ".restore")
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir()
        (fresh / "data.mdb").write_bytes(data)
        self.env.close()
        shutil.rmtree(self.path)
        os.replace(fresh, self.path)
        self.env = self._open(self.path)

    def items(self) -> dict[bytes, bytes]:
        with self.env.begin() as txn:
            return {k: v for k, v in txn.cursor() if k != APPLIED}
