"""A real podman (4.x, CNI backend) confined to a temp dir, optionally inside a caller's netns.

`Podman` owns everything under its root: containers.conf and storage.conf (runc, cgroupfs,
file events and locks), the storage, the CNI net.d that `write_conflist` fills, and a busybox
image it imports once. Every podman call runs under `nsenter --net=/run/netns/<ns>` when a
host namespace is given (not `ip netns exec`: its /sys remount breaks runc's cgroup lookup),
so CNI plugins wire containers into that namespace. CNI plugins are looked up in the caller's
directories first, then /usr/lib/cni. `close()` force-removes its containers, resets storage,
unmounts anything left under the root or at the containers' netns paths, and deletes the root.
The caller owns the host namespace and whatever plugins create in it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import tarfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

IMAGE = "localhost/alcor-bb:test"
SYSTEM_CNI_DIR = "/usr/lib/cni"
BUSYBOX = "/bin/busybox"
APPLETS = (
    "sh", "ip", "ls", "cat", "sleep", "ping", "ifconfig", "udhcpc", "nc", "wget", "hostname",
    "echo", "ps", "kill", "mount", "route", "arp", "true", "false", "grep", "test",
)  # fmt: skip
_MAC = re.compile(r"link/ether ([0-9a-f:]{17})")


class PodmanError(RuntimeError):
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        super().__init__(f"{' '.join(proc.args)} exited {proc.returncode}: {proc.stderr.strip()}")
        self.proc = proc


def _has_interpreter(path: str) -> bool:
    """Whether a 64-bit little-endian ELF file is dynamically linked (has a PT_INTERP header)."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:  # not a 64-bit ELF: let the run tell
            return False
        (phoff,) = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return any(struct.unpack_from("<I", table, i * phentsize)[0] == 3 for i in range(phnum))


def podman_unavailable(cni_plugins: Iterable[str] = ()) -> str | None:
    """Why a real podman cannot run here (for `pytest.skip`), or None; `cni_plugins` are stock
    plugins that must exist in /usr/lib/cni."""
    if os.geteuid() != 0:
        return "needs root: podman with CNI networking inside network namespaces"
    for tool in ("podman", "runc", "conmon", "nsenter", "ip"):
        if shutil.which(tool) is None and not os.path.exists(f"/usr/libexec/podman/{tool}"):
            return f"needs {tool} (apt-get install podman runc containernetworking-plugins)"
    if not os.path.exists(BUSYBOX) or _has_interpreter(BUSYBOX):
        return f"needs a static {BUSYBOX} for the test image (apt-get install busybox-static)"
    missing = [p for p in cni_plugins if not os.access(f"{SYSTEM_CNI_DIR}/{p}", os.X_OK)]
    if missing:
        return (
            f"needs CNI plugins {missing} in {SYSTEM_CNI_DIR} (apt-get install containernetworking-plugins)"
        )
    return None


class Podman:
    """One isolated podman: `root` is created and, on `close()`, deleted."""

    def __init__(self, root: Path, netns: str | None = None, plugin_dirs: Sequence[str | Path] = ()) -> None:
        self.root = Path(root)
        self.netns = netns
        self.net_d = self.root / "cni" / "net.d"
        self.sandboxes: set[str] = set()  # netns paths of containers it started
        self.procs: list[subprocess.Popen[str]] = []  # from popen_exec, killed by close()
        self.net_d.mkdir(parents=True, exist_ok=True)
        self.env = self._write_config([str(d) for d in plugin_dirs])
        self._import_image()

    # ---- configuration -------------------------------------------------------------------

    def _write_config(self, plugin_dirs: list[str]) -> dict[str, str]:
        def toml_list(items: Sequence[str]) -> str:
            return "[" + ", ".join(json.dumps(i) for i in items) + "]"

        r = self.root
        conf = r / "containers.conf"
        conf.write_text(
            "[containers]\n"
            'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n'
            "[engine]\n"
            'runtime = "runc"\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f"events_logfile_path = {json.dumps(str(r / 'events.log'))}\n"
            f"tmp_dir = {json.dumps(str(r / 'libpod-tmp'))}\n"
            'lock_type = "file"\n'
            "[network]\n"
            'network_backend = "cni"\n'
            f"cni_plugin_dirs = {toml_list([*plugin_dirs, SYSTEM_CNI_DIR])}\n"
            f"network_config_dir = {json.dumps(str(self.net_d))}\n"
        )
        storage = r / "storage.conf"
        storage.write_text(
            "[storage]\n"
            'driver = "overlay"\n'
            f"graphroot = {json.dumps(str(r / 'graph'))}\n"
            f"runroot = {json.dumps(str(r / 'run'))}\n"
        )
        return {**os.environ, "CONTAINERS_CONF": str(conf), "CONTAINERS_STORAGE_CONF": str(storage)}

    def _import_image(self) -> None:
        rootfs = self.root / "rootfs"
        for d in ("bin", "etc", "proc", "sys", "dev", "tmp"):
            (rootfs / d).mkdir(parents=True, exist_ok=True)
        shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
        for applet in APPLETS:
            (rootfs / "bin" / applet).symlink_to("busybox")
        tar = self.root / "bb.tar"
        with tarfile.open(tar, "w") as t:
            for entry in sorted(rootfs.iterdir()):
                t.add(entry, arcname=entry.name)
        self.podman("import", str(tar), IMAGE, check=True, timeout=120)
        shutil.rmtree(rootfs)
        tar.unlink()

    def write_conflist(self, name: str, conflist: dict[str, Any]) -> Path:
        """Write a CNI network list into this podman's net.d (its "name" defaults to `name`) and
        check that podman accepts it: podman validates every list by calling each plugin with
        CNI_COMMAND=VERSION and silently ignores (only warns about) the lists that fail."""
        path = self.net_d / f"{name}.conflist"
        path.write_text(json.dumps({"cniVersion": "0.4.0", "name": name, **conflist}, indent=2))
        self.podman("network", "inspect", name, check=True)
        return path

    def conflist(self, name: str) -> dict[str, Any]:
        """The network list `write_conflist` wrote for `name`."""
        return json.loads((self.net_d / f"{name}.conflist").read_text())  # type: ignore[no-any-return]

    # ---- commands ------------------------------------------------------------------------

    def podman(
        self, *args: str, check: bool = False, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run `podman ARGS` in the host namespace; raises PodmanError if `check` and it fails."""
        cmd = ["podman", *args]
        if self.netns is not None:
            cmd = ["nsenter", f"--net=/run/netns/{self.netns}", *cmd]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise PodmanError(proc)
        return proc

    def run(
        self,
        name: str,
        network: str,
        *,
        ip: str | None = None,
        mac: str | None = None,
        command: Sequence[str] = ("sleep", "600"),
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Start a detached container on `network` (pinning `ip`/`mac`, which CNI plugins get
        as CNI_ARGS IP=/MAC=). With check=False a failed start is returned, not raised: a failing
        plugin makes podman exit 126 with `Error: plugin type="X" failed (add): ...`."""
        args = ["run", "-d", "--name", name, "--network", network]
        if ip is not None:
            args += ["--ip", ip]
        if mac is not None:
            args += ["--mac-address", mac]
        proc = self.podman(*args, IMAGE, *command, check=check)
        if proc.returncode == 0 and (sandbox := self.netns_path(name)):
            self.sandboxes.add(sandbox)
        return proc

    def exec(
        self, name: str, *argv: str, check: bool = False, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` in a running container. Its capabilities are podman's built-in defaults,
        which (unlike Debian's shipped containers.conf) include NET_RAW: ping works."""
        return self.podman("exec", name, *argv, check=check, timeout=timeout)

    def popen_exec(self, name: str, *argv: str) -> subprocess.Popen[str]:
        """Start `argv` inside a running container's namespaces and root, with full root
        capabilities, without waiting (stdout and stderr piped, text). Signals sent to the
        returned process reach `argv` itself (`podman exec` does not forward them: SIGINT
        would end podman and orphan the command), e.g. SIGINT makes ping print its summary."""
        pid = str(self.inspect(name)["State"]["Pid"])
        cmd = ["nsenter", "-t", pid, "-m", "-u", "-i", "-n", "-r", "-w", *argv]  # no -p: no fork
        proc = subprocess.Popen(
            cmd, env={"PATH": "/bin"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.procs.append(proc)
        return proc

    def rm(self, name: str) -> None:
        """Force-remove a container at once (CNI DEL for its networks)."""
        self.podman("rm", "-f", "-t", "0", name, check=True)

    def network_reload(self, name: str) -> None:
        """CNI DEL then ADD for a running container, with its IP and MAC pinned."""
        self.podman("network", "reload", name, check=True)

    # ---- observation ---------------------------------------------------------------------

    def inspect(self, name: str) -> dict[str, Any]:
        """`podman inspect` of a container: what podman recorded from the CNI results."""
        out = self.podman("inspect", "--type", "container", name, check=True).stdout
        return json.loads(out)[0]  # type: ignore[no-any-return]

    def container_id(self, name: str) -> str:
        """The full container id (CNI_CONTAINERID for its plugins)."""
        return str(self.inspect(name)["Id"])

    def netns_path(self, name: str) -> str:
        """The container's network namespace file (CNI_NETNS), under /run/netns."""
        return str(self.inspect(name)["NetworkSettings"]["SandboxKey"])

    def addresses(self, name: str, ifname: str = "eth0") -> list[str]:
        """The IPv4 addresses (CIDR) on `ifname` as seen inside the container."""
        out = self.exec(name, "ip", "-o", "-4", "addr", "show", "dev", ifname, check=True).stdout
        return [line.split()[3] for line in out.splitlines() if " inet " in line]

    def ip(self, name: str, ifname: str = "eth0") -> str:
        """The single IPv4 address (no prefix length) on `ifname` inside the container."""
        addrs = self.addresses(name, ifname)
        if len(addrs) != 1:
            raise AssertionError(f"{name} {ifname}: expected one IPv4 address, got {addrs}")
        return addrs[0].split("/")[0]

    def mac(self, name: str, ifname: str = "eth0") -> str:
        """The MAC address of `ifname` inside the container."""
        out = self.exec(name, "ip", "-o", "link", "show", "dev", ifname, check=True).stdout
        found = _MAC.search(out)
        if found is None:
            raise AssertionError(f"{name} {ifname}: no link/ether in {out!r}")
        return found.group(1)

    def ping(self, name: str, dst: str, count: int = 1, wait: int = 2) -> bool:
        """Whether `dst` answers every ping sent from inside the container."""
        args = ("ping", "-c", str(count), "-W", str(wait), dst)
        return self.exec(name, *args, timeout=count * wait + 10).returncode == 0

    # ---- cleanup -------------------------------------------------------------------------

    def close(self) -> None:
        """Remove every container and the storage; leaves no mounts, netns files or root dir."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        self.procs.clear()
        if self.netns is not None and not os.path.exists(f"/run/netns/{self.netns}"):
            self.netns = None  # the caller deleted it first: still stop the containers and unmount
        try:
            self.podman("rm", "-af", "-t", "0", timeout=120)  # also the ones a failed run created
            self.podman("system", "reset", "-f", timeout=120)
        except subprocess.TimeoutExpired:
            pass
        finally:
            for mnt in sorted(_mounts_under(self.root) | (_mounts() & self.sandboxes), reverse=True):
                subprocess.run(["umount", "-l", mnt], capture_output=True)
            for sandbox in self.sandboxes:
                Path(sandbox).unlink(missing_ok=True)
            self.sandboxes.clear()
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Podman:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _mounts() -> set[str]:
    with open("/proc/self/mountinfo") as f:
        # mount points are octal-escaped (\040 for a space)
        return {line.split()[4].encode().decode("unicode_escape") for line in f}


def _mounts_under(root: Path) -> set[str]:
    prefix = str(root.resolve()) + "/"
    return {m for m in _mounts() if m.startswith(prefix)}
