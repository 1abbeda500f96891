"""The prompt-builder service: versioned templates and request state become chat messages."""
