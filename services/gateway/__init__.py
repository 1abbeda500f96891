"""The gateway: the application layer in front of the bus.

An HTTP API (FastAPI: ask, ask streamed as server-sent events, conversation history,
health) and a gRPC service (`conduit.v1.Gateway`: unary and server-streaming ask) in one
process. It authenticates callers (hashed API keys, signed JWTs), puts their tenant, user
and roles in the envelope, enforces per-tenant rate and concurrency limits and request
size limits, publishes to the ingest topic and correlates the response and the answer's
stream by request id (`shared.client.ConduitClient`). Not a step service: it consumes no
step topic. Run it with `python -m services.gateway` or `conduit up gateway`.
"""
