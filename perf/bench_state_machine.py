"""Benchmark: applied port-create commands per second on the LMDB state machine (issue 2).

    python perf/bench_state_machine.py [--quick] [--json PATH]

What is measured: `Store.apply_batch` over serialized `Command` envelopes (as Raft delivers
committed entries), 100 per LMDB write transaction, each a CreatePort with its own request id:
parse, idempotency lookup, scoping, address and MAC allocation, default security group, the
port record, five secondary indexes, the change-log event, the request record, the revision and
the applied index, and the commit. Measured twice: on a store holding 1 existing port and on one
holding 100,000 (10,000 with --quick), to show that the cost per command stays flat.

Two durability modes are measured side by side:
- fsync off (StoreConfig(sync=False)): the headline `commands_per_s`. Safe for a Raft state
  machine because the Raft log, fsynced before any acknowledgement, is the durability point:
  the applied index commits with the state, so whatever an OS crash loses is replayed from the
  log (the log must not be truncated past the last `Store.sync()`).
- fsync per batch (StoreConfig(sync=True, metasync=False), the Store default):
  `commands_per_s_fsync`; on a shared virtual disk this is bounded by fsync latency.

Figures (JSON): commands_per_s and commands_per_s_fsync (at the larger store), and per mode and
size (_at_1, _at_100k or _at_10k with --quick): commands_per_s*, cpu_us_per_command*,
batch_ms_p50*/p99*, and cost_ratio*_large_to_small (cost per command at the larger store over
the smaller: 1.0 is flat).

Bulk creates (fsync off): `bulk_ports_per_s`, ports per second applied by CreatePorts commands
of BULK ports, each its own log entry and write transaction (apply only: what every replica
pays for a bulk create), with `bulk_us_per_port` (wall), `bulk_cpu_us_per_port` (this process's
CPU time: robust on a shared machine) and `bulk_ms_p50`/`bulk_ms_p99` per command.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from alcor.controller.state import Store, StoreConfig
from alcor.internal import command_pb2 as cmd
from alcor.v1 import network_pb2 as net

BATCH = 100
BULK = 1000  # ports per CreatePorts command (the API's maximum)
CALLER = cmd.Caller(project_id="bench")
HOSTS = 1000


class Bench:
    def __init__(self, path: str, sync: bool) -> None:
        self.store = Store(path, StoreConfig(sync=sync))
        self.index = 0
        self.request = 0
        self.count = 0  # ports in the store
        vpc = self._one(create_vpc=net.CreateVpcRequest(cidr="10.0.0.0/8")).resource.vpc
        # a /12: a million addresses, room for every port of the run in one subnet
        subnet = self._one(create_subnet=net.CreateSubnetRequest(vpc_id=vpc.id, cidr="10.0.0.0/12"))
        self.subnet_id = subnet.resource.subnet.id

    def _envelope(self, **payload: object) -> cmd.Command:
        self.request += 1
        return cmd.Command(version=1, request_id=f"bench-{self.request}", caller=CALLER, **payload)  # type: ignore[arg-type]

    def _one(self, **payload: object) -> cmd.Result:
        self.index += 1
        result = self.store.apply(self.index, self._envelope(**payload))
        assert not result.HasField("error"), result.error
        return result

    def port_commands(self, n: int) -> list[bytes]:
        return [
            self._envelope(
                create_port=net.CreatePortRequest(
                    subnet_id=self.subnet_id, host_id=f"host-{i % HOSTS}", name="p"
                )
            ).SerializeToString()
            for i in range(n)
        ]

    def bulk_command(self) -> bytes:
        items = [
            net.CreatePortRequest(
                subnet_id=self.subnet_id, host_id=f"host-{(self.count + i) % HOSTS}", name="p"
            )
            for i in range(BULK)
        ]
        return self._envelope(create_ports=net.CreatePortsRequest(ports=items)).SerializeToString()

    def measure_bulk(self, commands: int) -> tuple[list[float], float]:
        """Apply `commands` CreatePorts of BULK ports, one per transaction.

        Returns the wall seconds of each and the CPU seconds of them all (this process only,
        so it is what a replica pays even on a shared machine).
        """
        data = [self.bulk_command() for _ in range(commands)]
        times = []
        cpu = 0.0
        for d in data:
            self.index += 1
            c0, t0 = time.process_time(), time.perf_counter()
            ((_, result),) = self.store.apply_batch([(self.index, d)])
            times.append(time.perf_counter() - t0)
            cpu += time.process_time() - c0
            assert not result.HasField("error"), result.error
            self.count += BULK
        return times, cpu

    def fill(self, ports: int) -> None:
        """Grow the store to `ports` ports (bulk creates, not timed)."""
        while self.count < ports:
            n = min(1000, ports - self.count)
            item = net.CreatePortRequest(subnet_id=self.subnet_id, host_id=f"host-{self.count % HOSTS}")
            self._one(create_ports=net.CreatePortsRequest(ports=[item] * n))
            self.count += n

    def measure(self, commands: int) -> tuple[float, float, list[float]]:
        """Apply `commands` port creates, BATCH per transaction.

        Returns (wall seconds, CPU seconds of this process, per-batch wall seconds). The CPU
        figure excludes time spent waiting for fsync or for other processes on a shared machine.
        """
        data = self.port_commands(commands)
        batches = []
        wall = cpu = 0.0
        for i in range(0, len(data), BATCH):
            entries = [(self.index + 1 + j, d) for j, d in enumerate(data[i : i + BATCH])]
            c0, t0 = time.process_time(), time.perf_counter()
            results = self.store.apply_batch(entries)
            dt = time.perf_counter() - t0
            cpu += time.process_time() - c0
            self.index += len(entries)
            batches.append(dt)
            wall += dt
            for _, r in results:
                assert not r.HasField("error"), r.error
        self.count += commands
        return wall, cpu, batches


def size_label(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 else str(n)


# (label, sync): the figure names without a suffix are the first mode's
MODES = [("", False), ("_fsync", True)]


def run_mode(
    root: str, sync: bool, sizes: list[int], commands: int
) -> list[tuple[int, float, float, float, float]]:
    """(existing ports, commands/s, cpu us/command, batch p50 ms, batch p99 ms) per store size."""
    warm = Bench(os.path.join(root, f"warm-up-{sync}"), sync)
    warm.measure(5 * BATCH)  # warm the interpreter's code paths on a throwaway store
    warm.store.close()
    bench = Bench(os.path.join(root, f"state-{sync}"), sync)
    rows = []
    for size in sizes:
        bench.fill(size)
        existing = bench.count
        seconds, cpu, batches = bench.measure(commands)
        p50 = statistics.median(batches) * 1000
        p99 = sorted(batches)[int(len(batches) * 0.99) - 1] * 1000
        rows.append((existing, commands / seconds, 1e6 * cpu / commands, p50, p99))
    bench.store.close()
    return rows


def run_bulk(root: str, commands: int) -> dict[str, float]:
    """The bulk-create figures (fsync off), after a warm-up on the same store."""
    bench = Bench(os.path.join(root, "bulk"), sync=False)
    bench.measure_bulk(2)
    times, cpu = bench.measure_bulk(commands)
    bench.store.close()
    ordered = sorted(times)
    return {
        "bulk_ports_per_s": round(BULK * len(times) / sum(times)),
        "bulk_us_per_port": round(1e6 * sum(times) / (BULK * len(times)), 2),
        "bulk_cpu_us_per_port": round(1e6 * cpu / (BULK * len(times)), 2),
        "bulk_ms_p50": round(statistics.median(times) * 1000, 3),
        "bulk_ms_p99": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="smaller store (10,000 ports) and fewer commands"
    )
    parser.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    parser.add_argument("--dir", help="where to put the LMDB environments (default: a temp dir)")
    args = parser.parse_args()

    sizes = [1, 10_000 if args.quick else 100_000]
    commands = 10_000 if args.quick else 30_000
    root = tempfile.mkdtemp(prefix="bench-sm-", dir=args.dir)
    figures: dict[str, float] = {}
    table = []
    try:
        for suffix, sync in MODES:
            rows = run_mode(root, sync, sizes, commands)
            for size, (existing, rate, cpu_us, p50, p99) in zip(sizes, rows, strict=True):
                label = size_label(size)
                figures[f"commands_per_s{suffix}_at_{label}"] = round(rate)
                figures[f"cpu_us_per_command{suffix}_at_{label}"] = round(cpu_us, 2)
                figures[f"batch_ms_p50{suffix}_at_{label}"] = round(p50, 3)
                figures[f"batch_ms_p99{suffix}_at_{label}"] = round(p99, 3)
                table.append(("on" if sync else "off", existing, rate, 1e6 / rate, cpu_us, p50, p99))
            figures[f"cost_ratio{suffix}_large_to_small"] = round(rows[0][1] / rows[-1][1], 3)
        bulk_commands = 10 if args.quick else 30
        figures.update(run_bulk(root, bulk_commands))
        figures["commands_per_s"] = figures[f"commands_per_s_at_{size_label(sizes[-1])}"]
        figures["commands_per_s_fsync"] = figures[f"commands_per_s_fsync_at_{size_label(sizes[-1])}"]
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(f"state machine: port-create commands applied, {BATCH} per LMDB write transaction")
    print(
        f"{'fsync':>5} {'existing ports':>15} {'commands/s':>11} {'us/command':>11} {'cpu us/cmd':>11}"
        f" {'batch p50 ms':>13} {'batch p99 ms':>13}"
    )
    for sync_label, existing, rate, us, cpu_us, p50, p99 in table:
        print(
            f"{sync_label:>5} {existing:>15,} {rate:>11,.0f} {us:>11.1f} {cpu_us:>11.1f} {p50:>13.2f} {p99:>13.2f}"
        )
    print(
        f"commands_per_s = {figures['commands_per_s']:,} (fsync off: Raft's log is the durability point;"
        f" target >= 20,000); with fsync per batch: {figures['commands_per_s_fsync']:,}"
    )

    print(
        f"bulk create, {BULK} ports per command (fsync off, apply only): bulk_ports_per_s ="
        f" {figures['bulk_ports_per_s']:,} ({figures['bulk_us_per_port']} us/port,"
        f" cpu {figures['bulk_cpu_us_per_port']} us/port,"
        f" p50 {figures['bulk_ms_p50']} ms per command)"
    )

    if args.json:
        params = {
            "batch": BATCH,
            "bulk_ports_per_command": BULK,
            "bulk_commands": bulk_commands,
            "commands_per_size": commands,
            "store_sizes": sizes,
            "quick": args.quick,
            "modes": {"commands_per_s": "sync=False", "commands_per_s_fsync": "sync=True, metasync=False"},
            "hosts": HOSTS,
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"figures": figures, "params": params}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
