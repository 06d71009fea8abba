"""Package discovery: each top-level code folder is an import package under `alcor.` (DESIGN.md s2).

The mapping lives here rather than in pyproject.toml so that new subpackages are found without
editing a list: setuptools' own find only understands one source root.
"""

from setuptools import find_packages, setup

ROOTS = {
    "alcor": "proto/alcor",
    "alcor.controller": "controller",
    "alcor.agent": "agent",
    "alcor.raft": "raft",
    "alcor.sdk": "sdk",
    "alcor.cmd": "cmd",
    "alcor.cni": "cni",
}

packages = []
for name, path in ROOTS.items():
    packages.append(name)
    packages.extend(f"{name}.{sub}" for sub in find_packages(path))

setup(packages=packages, package_dir=ROOTS)
