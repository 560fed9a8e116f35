"""Callers: who is asking (the services decide what each role may do)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    ADMIN = "admin"
    SALES = "sales"
    APP = "app"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: the API key's id, role and, for sales keys, a salesperson code."""

    key_id: str
    role: Role
    name: str = ""
    salesperson_code: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN
