"""`BudgetClient`: one object for a database's budgets. A scoped client creates for its user and
lists only that user's; rows come back as a `Table` like the analytics' (`.frame`, `.to_frame()`
with title and scope in `attrs`)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aa_notebooks.analytics import connect
from aa_notebooks.budgets.client import BudgetClient, connect_budgets
from aa_notebooks.errors import NotFoundError
from tests.budgets.conftest import ALICE, BOB, NOW


def test_create_list_update_delete(db_url: str) -> None:
    everyone = connect_budgets(db_url, now=lambda: NOW)
    alices = BudgetClient.of(connect(db_url, user_id=ALICE, now=lambda: NOW))
    org = everyone.create(name="org", threshold_usd="10", alert_type="warning")
    mine = alices.create(name="mine", scope="user", threshold_usd="2", alert_type="hard_stop")
    everyone.create(name="bob's", scope="user", user_id=BOB, threshold_usd="3",
                    alert_type="warning")  # fmt: skip
    assert mine.user_id == ALICE  # the scoped client's user unless told otherwise

    listed = everyone.list()
    assert sorted(listed.frame["name"]) == ["bob's", "mine", "org"]
    assert listed.to_frame().attrs["title"] == "Budgets"
    assert listed.to_frame().attrs["scope"] == "all users"
    assert alices.list().frame["name"].tolist() == ["mine"]
    assert alices.list().to_frame().attrs["scope"] == f"user {ALICE}"

    changed = everyone.update(org.id, threshold_usd="12.50", is_active=False)
    assert changed.threshold_usd == Decimal("12.50")
    assert sorted(everyone.list(active_only=True).frame["name"]) == ["bob's", "mine"]
    everyone.delete(org.id)
    with pytest.raises(NotFoundError):
        everyone.delete(org.id)
    assert "org" not in set(everyone.list().frame["name"])


def test_the_clock_must_be_aware(db_url: str) -> None:
    from datetime import datetime

    from aa_notebooks.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="aware"):
        connect_budgets(db_url, now=lambda: datetime(2024, 6, 1)).status()
