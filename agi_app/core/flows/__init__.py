"""Flows as data: the pydantic model, validation and graph checks, conditions."""
