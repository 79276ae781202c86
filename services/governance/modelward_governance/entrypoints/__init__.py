"""Governance's gRPC entry points and the conversions between domain objects and messages."""
