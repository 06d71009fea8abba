"""Runs the eBPF driver as its own process, as the agent will (there is no `alcor agent` yet).

    python driver_helper.py --host-id h1 --goal FILE --config JSON

Loads the driver (reusing pinned maps, swapping programs in place), reads the host's goal state
(a GoalStateUpdate snapshot in FILE), reconciles, prints one JSON line {"plan": counts, "failed":
{...}, "counters": {...}} and then waits until stdin closes or it is killed. Closing leaves the
data plane programmed, as an agent exit does.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import signal
import sys
from pathlib import Path

from alcor.agent.dataplane.ebpf.driver import EbpfConfig, EbpfDriver
from alcor.agent.dataplane.model import GoalState, desired
from alcor.agent.dataplane.plan import plan
from alcor.v1 import goalstate_pb2


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host-id", required=True)
    parser.add_argument("--goal", required=True, type=Path)
    parser.add_argument("--config", required=True, help="EbpfConfig fields as JSON")
    args = parser.parse_args()
    faulthandler.register(signal.SIGUSR1)  # a test that times out can ask where we are
    fields = json.loads(args.config)
    fields["cache_dir"] = Path(fields["cache_dir"])
    driver = EbpfDriver(EbpfConfig(**fields))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        update = goalstate_pb2.GoalStateUpdate.FromString(args.goal.read_bytes())
        goal = GoalState(args.host_id).apply(update)
        p = plan(desired(goal), driver.installed())
        report = driver.execute(p)
        print(
            json.dumps(
                {
                    "plan": p.counts(),
                    "failed": {repr(k): v for k, v in report.failed.items()},
                    "counters": driver.counters(),
                }
            ),
            flush=True,
        )
        sys.stdin.read()  # until the test closes stdin (or kills us)
    finally:
        driver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
