"""Who an API request acts for: an admin, or one user."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """An admin (every user's data, every budget) or one user (that user's data and budgets)."""

    admin: bool
    user_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if self.admin == (self.user_id is not None):
            raise ValueError("a principal is an admin or one user, not both or neither")

    @classmethod
    def administrator(cls) -> Principal:
        """The admin principal."""
        return cls(admin=True)

    @classmethod
    def of_user(cls, user_id: uuid.UUID) -> Principal:
        """The principal of one user."""
        return cls(admin=False, user_id=user_id)

    def __str__(self) -> str:
        return "admin" if self.admin else f"user {self.user_id}"
