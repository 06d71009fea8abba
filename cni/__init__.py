"""alcor-cni: the CNI plugin that attaches containers to Alcor VPCs (spec 1.0.0).

`spec` is the protocol, `netconf` this plugin's configuration keys, `plugin` the verbs against
the cluster and `main` the executable.
"""
