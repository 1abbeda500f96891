"""Tool-executor service: validates the agent's tool calls and runs them exactly once."""
