"""Container network-ready time: from `podman run -d` to the container running on its network,
with `alcor-cni` (a port through Raft, wired by the host's eBPF agent, ACTIVE) and with the
stock `bridge` + `host-local` plugins (the floor), alternated in one run, sequentially and with
10 runs at once. `podman run --network none` gives what podman itself costs.

    python perf/bench_cni.py [--quick] [--json PATH]

Figures: cni_add_p50_ms / cni_add_p99_ms (sequential), cni_add_concurrent_p50_ms /
cni_add_concurrent_p99_ms (10 at once), cni_bridge_add_p50_ms (and its p99 and concurrent
figures), cni_vs_bridge (the sequential p50s' ratio; goal at most 1.5), podman_none_p50_ms, and
where our ADD's time goes (the plugin's own trace: cni_plugin_*_p50_ms per phase).

Needs root, BPF and podman (the packages .ci/run installs); without them it says so and saves
the figures as absent.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchlib import median, parse_args, percentile, report

from alcor.cmd.demonetns import NamespaceHosts
from alcor.cmd.localcluster import LocalCluster
from alcor.sdk import Client

PLUGIN = Path(sys.executable).with_name("alcor-cni")
CONCURRENT = 10
BRIDGE = {
    "cniVersion": "1.0.0",
    "name": "bridge",
    "plugins": [
        {
            "type": "bridge",
            "bridge": "cni-bench0",
            "isGateway": False,
            "ipMasq": False,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.213.0.0/16"}]]},
        }
    ],
}


def unavailable() -> str | None:
    from support.podman import podman_unavailable

    reason = podman_unavailable(["bridge", "host-local"])
    if reason:
        return reason
    if not os.path.isdir("/sys/fs/bpf") or not os.path.ismount("/sys/fs/bpf"):
        return "no bpffs at /sys/fs/bpf"
    return None


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    rounds, concurrent_rounds = (8, 1) if args.quick else (40, 4)
    params: dict[str, object] = {
        "mode": "quick" if args.quick else "full",
        "sequential_runs": rounds,
        "concurrent": CONCURRENT,
        "concurrent_rounds": concurrent_rounds,
        "cluster": "3 controller processes, fsync on; one host namespace with an eBPF agent",
    }
    reason = unavailable()
    if reason:
        print(
            f"bench_cni: skipped: {reason} (as root: apt-get install podman runc containernetworking-plugins busybox-static)"
        )
        report("bench_cni", {"cni_vs_bridge": float("nan")}, {**params, "absent": reason}, args.json)
        return
    from support.controller import wait_connected
    from support.podman import IMAGE, Podman

    root = Path(tempfile.mkdtemp(prefix="alcor-bench-cni-"))
    trace = root / "trace.jsonl"
    hosts = NamespaceHosts()
    cluster = LocalCluster(root / "cluster", size=3, host=hosts.controller_address)
    podmen: dict[str, Podman] = {}
    try:
        cluster.start()
        hosts.start(cluster.endpoints, {"h1": "10.99.0.1"})
        with Client(cluster.endpoints) as client:
            vpc = client.create_vpc(name="bench", cidr="10.60.0.0/16")
            client.create_subnet(vpc_id=vpc.id, cidr="10.60.0.0/16", name="bench-a")
            wait_connected(client, ["h1"])
        from alcor.cni.netconf import conflist

        # one podman configuration per kind, each holding only its own network: podman asks every
        # plugin of every network it loads for VERSION on each run, so a shared one would charge
        # each kind for the others' plugins
        for kind in ("alcor", "bridge", "none"):
            podmen[kind] = Podman(root / f"podman-{kind}", hosts.host_netns("h1"), [str(PLUGIN.parent)])
        podmen["alcor"].env["ALCOR_CNI_TRACE"] = str(trace)  # libcni hands its environment to plugins
        podmen["alcor"].write_conflist(
            "alcor",
            conflist(
                name="alcor",
                vpc="bench",
                subnet="bench-a",
                endpoints=cluster.endpoints,
                host_id="h1",
                timeout=30,
            ),
        )
        podmen["bridge"].write_conflist("bridge", BRIDGE)
        seq: dict[str, list[float]] = {"alcor": [], "bridge": [], "none": []}
        names = iter(range(1_000_000))

        def run(kind: str) -> float:
            # `podman run -d` returns once the container runs on its network: ADD is inside it
            name = f"{kind}-{next(names)}"
            return timed(
                lambda: podmen[kind].podman(
                    "run", "-d", "--name", name, "--network", kind, IMAGE, "sleep", "600", check=True
                )
            )

        def cleanup() -> None:
            for podman in podmen.values():
                podman.podman("rm", "-af", "-t", "0", timeout=300)

        for kind in ("alcor", "bridge", "none"):  # warm-up: image layers, plugin caches
            run(kind)
        cleanup()
        trace.write_text("")
        for i in range(rounds):
            order = ["alcor", "bridge", "none"]
            order = order[i % 3 :] + order[: i % 3]  # alternate who goes first
            for kind in order:
                seq[kind].append(run(kind))
            if i % 10 == 9:
                cleanup()
        cleanup()
        phases = [json.loads(line) for line in trace.read_text().splitlines() if line]
        conc: dict[str, list[float]] = {"alcor": [], "bridge": []}
        for r in range(concurrent_rounds):
            for kind in ("alcor", "bridge") if r % 2 == 0 else ("bridge", "alcor"):
                with ThreadPoolExecutor(CONCURRENT) as pool:
                    conc[kind].extend(pool.map(lambda _, k=kind: run(k), range(CONCURRENT)))
                cleanup()
    finally:
        for podman in podmen.values():
            podman.close()
        hosts.close()
        cluster.stop()
    figures: dict[str, float] = {
        "cni_add_p50_ms": median(seq["alcor"]),
        "cni_add_p99_ms": percentile(seq["alcor"], 99),
        "cni_add_concurrent_p50_ms": median(conc["alcor"]),
        "cni_add_concurrent_p99_ms": percentile(conc["alcor"], 99),
        "cni_bridge_add_p50_ms": median(seq["bridge"]),
        "cni_bridge_add_p99_ms": percentile(seq["bridge"], 99),
        "cni_bridge_concurrent_p50_ms": median(conc["bridge"]),
        "cni_bridge_concurrent_p99_ms": percentile(conc["bridge"], 99),
        "podman_none_p50_ms": median(seq["none"]),
        "cni_vs_bridge": median(seq["alcor"]) / median(seq["bridge"]),
        "cni_vs_bridge_concurrent": median(conc["alcor"]) / median(conc["bridge"]),
    }
    for phase in ("total_ms", "resolve", "lookup", "agent_check", "create", "active"):
        values = [p[phase] for p in phases if phase in p]
        key = "cni_plugin_" + phase.removesuffix("_ms") + "_p50_ms"
        figures[key] = median(values)
    report("bench_cni", figures, params, args.json)


if __name__ == "__main__":
    main()
