"""The gRPC servicers of a controller node: network API, watch, goal state, and auth."""
