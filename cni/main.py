"""`alcor-cni`: the executable a container runtime runs (CNI spec 1.0.0).

It reads CNI_* from the environment and the network configuration from stdin, prints the result
(ADD), the version list (VERSION) or nothing (DEL, CHECK) and exits 0; on failure it prints the
spec's error object and exits 1. No traceback ever reaches the runtime. The SDK (and grpc) is
imported only for the verbs that talk to the cluster, so VERSION stays cheap.

With ALCOR_CNI_TRACE naming a file, each ADD appends one JSON line with the milliseconds of its
phases (perf/bench_cni.py reads them to say where the time goes).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from typing import IO

from . import spec
from .spec import CniError


def run(env: Mapping[str, str], stdin: bytes, out: IO[str]) -> int:
    version = spec.CNI_VERSION
    try:
        inv = spec.invocation(env, stdin)
        version = inv.version
        if inv.command == "VERSION":
            out.write(spec.version_result(version) + "\n")
            return 0
        # the runtime shows our stderr as the error's detail: keep grpc's own log (a failed TLS
        # handshake is logged there at every retry) out of it; the error object says it once.
        # CHECK forks (pyroute2, into the container's namespace) after using grpc: as in the
        # agent (alcor.cmd), grpc's fork handlers stay off
        os.environ.setdefault("GRPC_VERBOSITY", "NONE")
        os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
        from . import netconf, plugin

        conf = netconf.parse(inv.config)
        if inv.command == "ADD":
            trace: dict[str, float] = {}
            started = time.monotonic()
            result = plugin.add(inv, conf, trace=trace)
            _trace(env, inv.container_id, trace, started)
            out.write(json.dumps(result) + "\n")
        elif inv.command == "DEL":
            plugin.delete(inv, conf)
        else:
            from alcor.agent.dataplane.ebpf.wiring import workload_interface

            plugin.check(inv, conf, workload_interface)
        return 0
    except CniError as e:
        out.write(e.to_json(version) + "\n")
        return 1
    except Exception as e:  # a bug must still answer in the protocol
        out.write(
            CniError(spec.IO_FAILURE, "alcor-cni failed unexpectedly", f"{type(e).__name__}: {e}").to_json(
                version
            )
            + "\n"
        )
        return 1


def _trace(env: Mapping[str, str], container_id: str, phases: dict[str, float], started: float) -> None:
    path = env.get("ALCOR_CNI_TRACE")
    if not path:
        return
    line = {"container_id": container_id, "total_ms": round((time.monotonic() - started) * 1000, 3), **phases}
    try:
        with open(path, "a") as f:
            f.write(json.dumps(line) + "\n")
    except OSError:
        pass  # tracing never fails an ADD


def main() -> None:
    sys.exit(run(os.environ, sys.stdin.buffer.read(), sys.stdout))


if __name__ == "__main__":
    main()
