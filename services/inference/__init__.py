"""Inference service: turns chat prompts into generations on a local model."""
