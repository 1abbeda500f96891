"""Guardrail service: redacts personal data on the way in, checks answers on the way out."""
