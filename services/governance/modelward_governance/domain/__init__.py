"""Governance domain: pure rules about models, policies, promotions, orphans and redundancy.

Nothing here performs I/O or imports a database, gRPC or NATS client. Inputs are frozen
dataclasses, generated protobuf event messages (read as plain data) and explicit times, so every
function gives the same result for the same arguments. Domain errors are the classes of
`modelward_common.errors`, which the service maps to gRPC statuses.
"""
