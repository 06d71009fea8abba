"""One pysyncobj 0.3.17 member for bench_raft.py's side-by-side run (bench-only peer).

The member whose id is 0 waits for a leader; whichever member leads runs the load itself (the
usual way to drive pysyncobj: replicated calls from inside the process) with a fixed number of
commands in flight, and prints {"commits_per_s": ...} as JSON. Not used by Alcor itself.
"""

from __future__ import annotations

import argparse
import json
import threading
import time

from pysyncobj import SyncObj, SyncObjConf, replicated


class Kv(SyncObj):
    def __init__(self, me: str, partners: list[str]) -> None:
        super().__init__(me, partners, SyncObjConf(dynamicMembershipChange=False))
        self._data: dict[str, str] = {}

    @replicated
    def put(self, key: str, value: str) -> None:
        self._data[key] = value


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--me", required=True)
    p.add_argument("--partners", required=True)
    p.add_argument("--inflight", type=int, default=64)
    p.add_argument("--seconds", type=float, default=5.0)
    opts = p.parse_args()
    kv = Kv(opts.me, opts.partners.split(","))
    deadline = time.monotonic() + 30
    while kv._getLeader() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    if kv._getLeader() is None or str(kv._getLeader()) != opts.me:
        time.sleep(opts.seconds + 3)  # a follower: serve the leader until it is done
        return
    slots = threading.Semaphore(opts.inflight)
    done = [0]
    lock = threading.Lock()

    def callback(result: object, error: object) -> None:
        if error == 0:  # FAIL_REASON.SUCCESS
            with lock:
                done[0] += 1
        slots.release()

    start = time.monotonic()
    i = 0
    while time.monotonic() - start < opts.seconds:
        slots.acquire()
        kv.put(f"k{i}", "v", callback=callback)
        i += 1
    elapsed = time.monotonic() - start
    print(json.dumps({"commits_per_s": done[0] / elapsed}), flush=True)


if __name__ == "__main__":
    main()
