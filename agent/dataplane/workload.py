"""What a workload's interface is unless its port says otherwise: the name of its end inside the
workload namespace and its MTU. Dependency-free, so the CNI plugin reads the same values without
loading the data-plane model."""

WORKLOAD_IFNAME = "eth0"  # a port's interface in its workload namespace unless it names one
OVERLAY_MTU = 1450  # a workload's MTU: VXLAN takes 50 bytes of the 1500 underlay
