"""The Alcor controller: the replicated network state machine on LMDB (`schema`, `state`),
and later the API servicers, watch, the goal-state engine and the controller process."""
