"""The installed `alcor` console script: help and version."""

import shutil
import subprocess

from alcor import __version__


def run(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("alcor")
    assert exe, "the alcor console script is not installed (pip install -e .)"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=30)


def test_version() -> None:
    out = run("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"alcor, version {__version__}"


def test_help_describes_alcor() -> None:
    out = run("--help")
    assert out.returncode == 0
    assert "replicated VPC control plane" in out.stdout


def test_unknown_command_is_one_clear_error() -> None:
    out = run("frobnicate")
    assert out.returncode == 2
    assert "No such command 'frobnicate'" in out.stderr
    assert "Traceback" not in out.stderr
