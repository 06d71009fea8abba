"""The `alcor` command line (click); a thin layer over the SDK and the process entry points."""

import os
import sys

if __name__ == "cmd":
    # Imported as the standard library's `cmd`: `python -m pytest` in the repository root puts
    # the root on sys.path, where this folder shadows it (pdb imports cmd). Be that module.
    import importlib.util
    import sysconfig

    _spec = importlib.util.spec_from_file_location("cmd", os.path.join(sysconfig.get_paths()["stdlib"], "cmd.py"))
    assert _spec is not None and _spec.loader is not None
    _stdlib = importlib.util.module_from_spec(_spec)
    sys.modules["cmd"] = _stdlib  # what the import statement hands back
    _spec.loader.exec_module(_stdlib)

# Read by grpc when it is imported, so it is set here, before anything imports grpc. With fork
# support on, a process whose gRPC threads are busy (an agent mid-stream) crashes in the child
# when pyroute2 forks to open a socket in another network namespace (SIGSEGV in the child: the
# eBPF driver then fails to wire ports). Alcor never uses gRPC in a forked child.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
