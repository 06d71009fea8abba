"""Alcor: a replicated VPC control plane (distribution root; version and the generated wire contract)."""

__version__ = "0.1.0"
