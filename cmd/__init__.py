"""The `alcor` command line (click); a thin layer over the SDK and the process entry points."""

import os

# Read by grpc when it is imported, so it is set here, before anything imports grpc. With fork
# support on, a process whose gRPC threads are busy (an agent mid-stream) crashes in the child
# when pyroute2 forks to open a socket in another network namespace (SIGSEGV in the child: the
# eBPF driver then fails to wire ports). Alcor never uses gRPC in a forked child.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
