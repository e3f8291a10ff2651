"""Pydantic models of a typed job's input and output, and typed handlers over them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel


class Sum(BaseModel):
    """A typed job's input."""

    x: int
    y: int
    day: date = date(2024, 1, 2)


class Total(BaseModel):
    """A typed job's output."""

    total: int
    price: Decimal = Decimal("1.50")
    day: date


def add(data: Sum) -> Total:
    """A typed handler."""
    return Total(total=data.x + data.y, day=data.day)


def add_as_dict(data: Sum) -> Total:
    """A typed handler returning a dict (validated as `Total` on return)."""
    return {"total": data.x + data.y, "day": data.day}  # type: ignore[return-value] # validated on return
