"""Shared pytest configuration; fixtures live in ``tests/fixtures`` and load as plugins."""

pytest_plugins = ["tests.fixtures.metrics", "tests.fixtures.real_servers"]
