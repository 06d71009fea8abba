"""The import layering of DESIGN.md section 2, checked on the source tree.

controller and agent never import each other (they speak through proto), raft imports neither,
the SDK and the wire contract depend on no server code, and only agent/dataplane/ touches the
kernel libraries (pyroute2, libbpf).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FOLDERS = {
    "controller": "alcor.controller",
    "agent": "alcor.agent",
    "raft": "alcor.raft",
    "sdk": "alcor.sdk",
    "cmd": "alcor.cmd",
    "cni": "alcor.cni",
    "proto/alcor": "alcor",
}
# package -> alcor packages it must never import
FORBIDDEN = {
    "alcor.controller": {"alcor.agent", "alcor.sdk", "alcor.cmd", "alcor.cni"},
    "alcor.agent": {"alcor.controller", "alcor.raft", "alcor.sdk", "alcor.cmd", "alcor.cni"},
    "alcor.raft": {"alcor.controller", "alcor.agent", "alcor.sdk", "alcor.cmd", "alcor.cni"},
    "alcor.sdk": {"alcor.controller", "alcor.agent", "alcor.raft", "alcor.cmd", "alcor.cni"},
    # the command line is the top: it may start controllers and agents and use the SDK
    "alcor.cmd": set(),
    # the CNI plugin is a client of the cluster (SDK); CHECK reads the namespace through the
    # agent's data-plane code, the one place that touches the kernel
    "alcor.cni": {"alcor.controller", "alcor.raft", "alcor.cmd"},
    # the wire contract (alcor.v1, alcor.internal) depends on nothing of ours
    "alcor": {"alcor.controller", "alcor.agent", "alcor.raft", "alcor.sdk", "alcor.cmd"},
}
KERNEL_LIBRARIES = ("pyroute2", "libbpf")


def module_name(path: Path) -> tuple[str, bool]:
    """The dotted module name of a source file, and whether it is a package __init__."""
    for folder, package in sorted(FOLDERS.items(), key=lambda kv: -len(kv[0])):
        root = REPO / folder
        if root in path.parents:
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_init = parts[-1] == "__init__"
            if is_init:
                parts.pop()
            return ".".join([package, *parts]), is_init
    raise AssertionError(f"{path} is outside the mapped folders")


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in a file, relative imports resolved."""
    name, is_init = module_name(path)
    package = name if is_init else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "libbpf.so" in node.value:
            found.append((node.lineno, "libbpf"))  # ctypes.CDLL("libbpf.so.1")
    return found


def sources() -> list[Path]:
    return sorted(
        p
        for folder in FOLDERS
        for p in (REPO / folder).rglob("*.py")
        if "_pb2" not in p.name and "__pycache__" not in p.parts
    )


def owner(module: str) -> str:
    for package in sorted(FORBIDDEN, key=len, reverse=True):
        if module == package or module.startswith(package + "."):
            return package
    return ""


def test_sources_are_found() -> None:
    names = {module_name(p)[0] for p in sources()}
    assert "alcor.cmd.main" in names


def test_layers_are_respected() -> None:
    violations = []
    for path in sources():
        module, _ = module_name(path)
        forbidden = FORBIDDEN.get(owner(module), set())
        in_dataplane = module.startswith("alcor.agent.dataplane")
        for line, target in imports(path):
            where = f"{path.relative_to(REPO)}:{line} imports {target}"
            if any(target == f or target.startswith(f + ".") for f in forbidden):
                violations.append(where)
            if not in_dataplane and target.split(".")[0] in KERNEL_LIBRARIES:
                violations.append(where + " (only agent/dataplane/ may touch the kernel)")
    assert not violations, "\n".join(violations)


@pytest.mark.parametrize("name", ["cmd", "pdb"])
def test_stdlib_modules_are_not_shadowed(name: str, tmp_path: Path) -> None:
    # `alcor.cmd` must not leak a top-level `cmd` package into site-packages
    out = subprocess.run(
        [sys.executable, "-c", f"import {name}; print({name}.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout.strip()
    stdlib = sysconfig.get_paths()["stdlib"]
    assert out.startswith(stdlib), f"{name} resolved to {out}, not the standard library"


def test_generated_code_is_fresh() -> None:
    # the committed *_pb2 files are exactly what proto/generate.py produces today
    result = subprocess.run(
        [sys.executable, str(REPO / "proto" / "generate.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_python_m_pytest_works_in_the_repository_root() -> None:
    # `python -m pytest` puts the root on sys.path, where cmd/ would shadow the stdlib's cmd
    # (which pdb, and so pytest, imports); cmd/__init__.py stands in for it then
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only", "tests/test_layers.py"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_python_m_pytest_works_in_the_repository_root" in done.stdout
