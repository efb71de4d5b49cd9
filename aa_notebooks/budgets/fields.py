"""Budget fields given by the user: which are accepted, parsed and validated as a whole.

Validation is `BudgetAlertCreate`'s (threshold > 0, 1..100 percent, period_days >= 1, a target
for agent and flow scopes and none for global, user_id for user scope); its pydantic errors
become one InvalidInputError line. An agent target that is a UUID is stored in its canonical
text (lower case, with dashes), the form execution agent ids are matched in.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.money import cents
from aa_notebooks.db.records import BudgetAlertCreate
from aa_notebooks.db.schema import BudgetScope
from aa_notebooks.errors import InvalidInputError

# current_spend_usd is written by evaluation only; id is fixed once the budget exists.
CREATE_FIELDS = tuple(
    name for name in BudgetAlertCreate.model_fields if name != "current_spend_usd"
)
UPDATE_FIELDS = tuple(name for name in CREATE_FIELDS if name != "id")
MAX_PERIOD_DAYS = 36_500  # a window must stay computable (dates) and fit an INTEGER column


REQUIRED = {"threshold_usd": "an amount in USD", "alert_type": "warning or hard_stop"}
"""The fields a new budget cannot do without, and what each takes."""


def parse_uuid(value: uuid.UUID | str, what: str) -> uuid.UUID:
    """An id (budget id, user_id) as a UUID; InvalidInputError for anything that is not one."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInputError(f"{what} must be a UUID, got {value!r}") from None


def check_known(fields: Mapping[str, Any], accepted: tuple[str, ...], what: str) -> None:
    """InvalidInputError naming the fields not in `accepted`, and those that are."""
    if unknown := sorted(set(fields) - set(accepted)):
        raise InvalidInputError(
            f"unknown budget field {', '.join(map(repr, unknown))}; {what}: {', '.join(accepted)}"
        )


def validated(fields: Mapping[str, Any], current_spend: Decimal) -> Budget:
    """The Budget these fields describe, checked as a whole; InvalidInputError when they fail."""
    check_known(fields, CREATE_FIELDS, "accepted fields")
    try:
        record = BudgetAlertCreate.model_validate({**fields, "current_spend_usd": current_spend})
    except ValidationError as exc:
        raise InvalidInputError(f"invalid budget: {_explain(exc)}") from None
    if record.period_days > MAX_PERIOD_DAYS:
        raise InvalidInputError(
            f"invalid budget: period_days: must be at most {MAX_PERIOD_DAYS} (100 years), "
            f"got {record.period_days}"
        )
    for name in ("name", "target"):
        if "\x00" in (getattr(record, name) or ""):
            raise InvalidInputError(f"invalid budget: {name}: must not contain NUL characters")
    values = record.model_dump()
    values["target"] = canonical_target(record.scope, record.target)
    values["threshold_usd"] = cents(record.threshold_usd)
    values["alert_levels"] = tuple(sorted(set(record.alert_levels or ())))
    return Budget(**values)


@lru_cache(maxsize=4096, typed=True)  # a StrEnum scope and its text hash alike
def canonical_target(scope: BudgetScope, target: str | None) -> str | None:
    """An agent target that parses as a UUID in canonical form; other targets as given (kept:
    the hard-stop check asks it for every run's agent, and a name fails to parse each time)."""
    if scope is not BudgetScope.agent or target is None:
        return target
    try:
        return str(uuid.UUID(target))
    except ValueError:
        return target


def _explain(exc: ValidationError) -> str:
    """pydantic's errors as `field: message; ...`."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = f"required: {REQUIRED[where]}" if where in REQUIRED else "required"
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)
