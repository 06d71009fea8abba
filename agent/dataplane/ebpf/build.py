"""Compiling dp.bpf.c with clang into a cache directory (the object is never committed).

The cache file name carries a digest of the source, the compiler's version and the flags, so a
changed source or toolchain gets a fresh object and concurrent starts never see a half-written
one (it is written under a temporary name and renamed).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..rules import MAX_RANGES

SOURCE = Path(__file__).with_name("dp.bpf.c")
DEFAULT_CACHE = Path(os.environ.get("ALCOR_BPF_CACHE", "/var/cache/alcor/bpf"))


class BuildError(RuntimeError):
    pass


def _flags() -> list[str]:
    # -g: BTF for the .maps definitions; the arch include dir: <asm/types.h>
    arch_inc = f"/usr/include/{platform.machine()}-linux-gnu"
    return ["-O2", "-g", "-target", "bpf", f"-I{arch_inc}", f"-DMAX_RANGES={MAX_RANGES}", "-Wall", "-Werror"]


def clang() -> str:
    path = shutil.which("clang")
    if path is None:
        raise BuildError("clang not found: it compiles the BPF programs at agent start")
    return path


def compile_object(cache_dir: Path = DEFAULT_CACHE, source: Path = SOURCE) -> Path:
    """The compiled object for `source`, from the cache or freshly built."""
    cc = clang()
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, check=True).stdout
    flags = _flags()
    digest = hashlib.sha256(source.read_bytes() + version.encode() + " ".join(flags).encode()).hexdigest()
    target = cache_dir / f"{source.name.removesuffix('.c')}-{digest[:16]}.o"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".o.tmp")
    os.close(fd)
    try:
        result = subprocess.run([cc, *flags, "-c", str(source), "-o", tmp], capture_output=True, text=True)
        if result.returncode != 0:
            raise BuildError(f"clang failed on {source}:\n{result.stderr}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
