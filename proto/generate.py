"""Regenerate the Python protobuf/gRPC code (and .pyi stubs) from the .proto sources.

The one command that produces everything under proto/alcor/**/_pb2*.py(i): never edit those by
hand. `python proto/generate.py --check` exits non-zero when the committed code is stale (CI).
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def sources() -> list[Path]:
    return sorted(ROOT.glob("alcor/**/*.proto"))


def generated(root: Path) -> dict[str, Path]:
    return {
        str(p.relative_to(root)): p
        for p in root.glob("alcor/**/*")
        if p.name.endswith(GENERATED_SUFFIXES)
    }


def generate(out: Path) -> None:
    from grpc_tools import protoc  # dev extra; imported late so --help works without it

    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{ROOT}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *[str(p.relative_to(ROOT)) for p in sources()],
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed code is stale")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        generate(out)
        fresh, current = generated(out), generated(ROOT)
        stale = sorted(
            name
            for name in fresh.keys() | current.keys()
            if name not in fresh or name not in current or not filecmp.cmp(fresh[name], current[name], shallow=False)
        )
        if opts.check:
            for name in stale:
                print(f"stale generated file: proto/{name}", file=sys.stderr)
            if stale:
                print("run: python proto/generate.py", file=sys.stderr)
            return 1 if stale else 0
        for name in stale:
            target = ROOT / name
            if name in fresh:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(fresh[name], target)
            else:
                target.unlink()
        print(f"{len(stale)} file(s) updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
