"""Frozen pydantic models and settings: every default and every validation rule, written once."""
