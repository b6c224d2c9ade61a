"""Model fields for money: integer base units of any size (ERC-20 amounts reach 2**256 - 1)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models

MAX_UINT256_DIGITS = 78


class BaseUnitsField(models.DecimalField):
    """A non-negative-or-not integer in base units (wei, satoshis), exact at any size.

    PostgreSQL stores numeric(78, 0); SQLite (the embedded default) stores the decimal digits as text,
    because its numeric affinity would round integers above 2**63 to floating point.
    Python code always sees `int`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["max_digits"] = MAX_UINT256_DIGITS
        kwargs["decimal_places"] = 0
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple[Any, ...]:
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("max_digits", None)
        kwargs.pop("decimal_places", None)
        return name, path, args, kwargs

    def get_internal_type(self) -> str:
        # Not "DecimalField": SQLite's decimal converter works through a 15-digit float context and
        # rejects the text this field stores there.
        return "BaseUnitsField"

    def db_type(self, connection: Any) -> str:
        if connection.vendor == "sqlite":
            return "text"
        return f"numeric({MAX_UINT256_DIGITS}, 0)"

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None:
            return None
        if connection.vendor == "sqlite":
            return str(self.to_python(value))
        return super().get_db_prep_value(Decimal(self.to_python(value)), connection, prepared)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> int | None:
        if value is None:
            return None
        return int(Decimal(value)) if not isinstance(value, int) else value

    def to_python(self, value: Any) -> int | None:
        if value is None or isinstance(value, int):
            return value
        if isinstance(value, float):
            raise TypeError("amounts are integers in base units, never floats")
        number = Decimal(str(value).strip())
        if number != number.to_integral_value():
            raise ValueError(f"amount {value!r} is not a whole number of base units")
        return int(number)

    def get_prep_value(self, value: Any) -> Any:
        return None if value is None else self.to_python(value)
