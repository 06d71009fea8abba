"""The host agent: the goal-state stream client and runner (`alcor.agent.runner.Agent`), the
reconciler, the local goal-state store, metrics, and the data-plane drivers under `dataplane/`."""
