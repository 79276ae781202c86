"""Authentication and authorisation shared by both services.

A caller proves who it is with a bearer token (an OIDC JWT or a modelward API token) or a TLS
client certificate. Role bindings then decide which RPCs it may call and on which models.
"""
