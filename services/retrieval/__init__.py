"""Retrieval service: per-tenant vector search over knowledge documents published to the bus."""
