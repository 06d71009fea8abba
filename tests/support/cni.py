"""Running the installed `alcor-cni` as a container runtime does: the CNI_* environment and the
network configuration on stdin; its stdout parsed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

PLUGIN = str(Path(sys.executable).with_name("alcor-cni"))
CONTAINER = "c0ffee" * 10 + "0001"


def cni(
    command: str,
    conf: dict[str, Any],
    *,
    container: str = CONTAINER,
    netns: str = "/run/netns/cni-test-1",
    ifname: str = "eth0",
    args: str = "",
) -> tuple[int, Any]:
    """(exit status, the JSON it printed or None)."""
    env = {
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": container,
        "CNI_NETNS": netns,
        "CNI_IFNAME": ifname,
        "CNI_ARGS": args,
        "CNI_PATH": str(Path(PLUGIN).parent),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run([PLUGIN], input=json.dumps(conf).encode(), env=env, capture_output=True, timeout=60)
    assert not done.stderr, done.stderr.decode()  # no traceback, no noise for the runtime
    out = done.stdout.decode().strip()
    return done.returncode, json.loads(out) if out else None
