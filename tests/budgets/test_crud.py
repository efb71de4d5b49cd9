"""Budget CRUD: the data contract's curl body as is, partial updates validated as a whole, and one
clear error for every invalid input."""

from __future__ import annotations

import json
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from aa_notebooks.budgets import (
    Budget,
    budget_status,
    check_budget,
    create_budget,
    crud,
    delete_budget,
    list_budgets,
    update_budget,
)
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import BudgetAlertType, BudgetScope, User
from aa_notebooks.errors import InvalidInputError, NotFoundError, SchemaError
from tests.budgets.conftest import ALICE, BOB, NOW, RESEARCHER, record, stored_spends

CURL_BODY = """{
    "threshold_usd": 100.00,
    "period_days": 30,
    "alert_type": "warning",
    "alert_at_percentage": 80,
    "email_notification": true
  }"""


def test_the_documents_curl_body_is_accepted_as_is(db_url: str) -> None:
    budget = create_budget(db_url, **json.loads(CURL_BODY))
    assert budget.scope is BudgetScope.global_
    assert budget.threshold_usd == Decimal("100.00")
    assert (budget.period_days, budget.alert_at_percentage) == (30, 80)
    assert budget.alert_type is BudgetAlertType.warning
    assert budget.email_notification and budget.is_active
    assert (budget.target, budget.user_id, budget.name) == (None, None, None)
    frame = list_budgets(db_url)
    assert frame.to_dict("records") == [
        {
            "id": str(budget.id), "name": None, "scope": "global", "target": None, "user_id": None,
            "threshold_usd": 100.0, "period_days": 30, "alert_type": "warning",
            "alert_at_percentage": 80, "is_active": True, "email_notification": True,
            "current_spend_usd": 0.0, "alert_levels": [], "per_user": False,
        }
    ]  # fmt: skip


def test_create_and_update_show_the_spend_now_as_the_list_does(db_url: str) -> None:
    """They showed the stored copy, $0.00 until `budgets evaluate`, while `list` showed $1.25."""
    now = datetime.now(UTC)
    record(db_url, "1.25", now - timedelta(days=2), agent_name="researcher")
    record(db_url, "2.00", now - timedelta(days=40), agent_name="researcher")
    record(db_url, "0.50", now - timedelta(days=1), agent_name="writer")
    made = create_budget(db_url, scope="agent", target="researcher", threshold_usd=10,
                         period_days=30, alert_type="warning")  # fmt: skip
    assert made.current_spend_usd == Decimal("1.25")
    assert list_budgets(db_url)["current_spend_usd"].tolist() == [1.25]
    changed = update_budget(db_url, made.id, period_days=60)
    assert changed.current_spend_usd == Decimal("3.25")
    assert stored_spends(db_url) == {made.id: 0.0}  # only `evaluate` writes the copy


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)  # fmt: skip
def test_a_stored_budget_whose_spend_cannot_be_read_is_returned_not_failed(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading the spend after the commit failed the create (the API said 503), so a retry
    stored the budget twice. Another session holding the tables makes the read fail for real."""
    monkeypatch.setattr(crud, "SPEND_READ_LOCK_TIMEOUT_S", 1)
    assert list_budgets(db_url).empty  # the tables are known before the lock
    with psycopg.connect(make_url(db_url).render_as_string(hide_password=False)) as holder:
        holder.execute(
            "LOCK TABLE agentexecutions, budgetspendledger, rollup_totals_hour, "
            "rollup_totals_day IN ACCESS EXCLUSIVE MODE"
        )
        with pytest.warns(UserWarning, match="is stored, but its spend could not be read now"):
            made = create_budget(db_url, name="cap", threshold_usd=100, alert_type="warning")
    assert made.current_spend_usd == Decimal("0.00")  # the stored copy
    assert list_budgets(db_url)["id"].tolist() == [str(made.id)]


def test_every_scope_and_the_list_filters(db_url: str) -> None:
    team = create_budget(db_url, name="team", threshold_usd=500, alert_type="warning", user_id=BOB)
    alice = create_budget(db_url, name="alice", scope="user", user_id=ALICE, threshold_usd="20",
                          alert_type="hard_stop")  # fmt: skip
    agent = create_budget(db_url, name="researcher", scope="agent", target="researcher",
                          threshold_usd=5, alert_type="hard_stop", user_id=ALICE)  # fmt: skip
    flow = create_budget(db_url, name="onboarding", scope="flow", target="onboarding",
                         threshold_usd=7.5, alert_type="warning", is_active=False)  # fmt: skip
    assert list(list_budgets(db_url)["name"]) == ["alice", "onboarding", "researcher", "team"]
    assert list(list_budgets(db_url, user_id=str(ALICE))["id"]) == [str(alice.id), str(agent.id)]
    assert list(list_budgets(db_url, user_id=BOB)["id"]) == [str(team.id)]
    assert str(flow.id) not in set(list_budgets(db_url, active_only=True)["id"])
    assert len(list_budgets(db_url, user_id=uuid.uuid4())) == 0
    assert list(list_budgets(db_url, user_id=uuid.uuid4()).columns) == list(
        list_budgets(db_url).columns
    )


def test_an_agent_target_given_as_a_uuid_is_stored_canonically(db_url: str) -> None:
    budget = create_budget(db_url, scope="agent", target=str(RESEARCHER).upper(),
                           threshold_usd=1, alert_type="warning")  # fmt: skip
    assert budget.target == str(RESEARCHER)
    assert list(list_budgets(db_url)["target"]) == [str(RESEARCHER)]


def test_a_budget_for_a_user_who_has_not_run_anything_yet(db_url: str) -> None:
    newcomer = uuid.uuid4()
    create_budget(db_url, scope="user", user_id=newcomer, threshold_usd=1, alert_type="hard_stop")
    with get_engine(db_url).connect() as connection:
        assert connection.execute(select(User.id).where(User.id == newcomer)).scalar() == newcomer


def test_update_is_partial_and_validated_as_a_whole(db_url: str) -> None:
    budget = create_budget(db_url, name="cap", threshold_usd=10, alert_type="warning")
    raised = update_budget(db_url, budget.id, threshold_usd="12.50", alert_type="hard_stop")
    assert raised == Budget(**{**budget.__dict__, "threshold_usd": Decimal("12.50"),
                               "alert_type": BudgetAlertType.hard_stop})  # fmt: skip
    with pytest.raises(InvalidInputError, match="an agent budget needs a target"):
        update_budget(db_url, budget.id, scope="agent")
    moved = update_budget(db_url, str(budget.id), scope="agent", target="researcher")
    assert (moved.scope, moved.target, moved.threshold_usd) == (
        BudgetScope.agent, "researcher", Decimal("12.50"),
    )  # fmt: skip
    with pytest.raises(InvalidInputError, match="a global budget takes no target"):
        update_budget(db_url, budget.id, scope="global")
    back = update_budget(db_url, budget.id, scope="global", target=None, is_active=False)
    stored = list_budgets(db_url).to_dict("records")[0]
    assert (stored["scope"], stored["target"], stored["is_active"]) == ("global", None, False)
    assert (back.name, stored["threshold_usd"]) == ("cap", 12.5)


def test_delete(db_url: str) -> None:
    keep = create_budget(db_url, threshold_usd=1, alert_type="warning")
    gone = create_budget(db_url, threshold_usd=2, alert_type="warning")
    delete_budget(db_url, str(gone.id))
    assert list(list_budgets(db_url)["id"]) == [str(keep.id)]
    with pytest.raises(NotFoundError, match=f"no budget with id {gone.id}"):
        delete_budget(db_url, gone.id)


def test_unknown_and_malformed_ids(db_url: str) -> None:
    unknown = uuid.uuid4()
    with pytest.raises(NotFoundError, match=f"no budget with id {unknown}"):
        update_budget(db_url, unknown, threshold_usd=5)
    with pytest.raises(NotFoundError, match=f"no budget with id {unknown}"):
        delete_budget(db_url, unknown)
    for call in (lambda: update_budget(db_url, "42", threshold_usd=5),
                 lambda: delete_budget(db_url, "not-a-uuid")):  # fmt: skip
        with pytest.raises(InvalidInputError, match="budget id must be a UUID"):
            call()
    with pytest.raises(InvalidInputError, match="user_id must be a UUID"):
        list_budgets(db_url, user_id="alice")


VALID = {"threshold_usd": 10, "alert_type": "warning"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"threshold_usd": 0}, "threshold_usd: Input should be greater than 0"),
        ({"threshold_usd": "-5"}, "threshold_usd: Input should be greater than 0"),
        ({"threshold_usd": "1.005"}, "threshold_usd: Decimal input should have no more than 2"),
        ({"alert_at_percentage": 0}, "alert_at_percentage: Input should be greater than or equal"),
        ({"alert_at_percentage": 101}, "alert_at_percentage: Input should be less than or equal"),
        ({"period_days": 0}, "period_days: Input should be greater than or equal to 1"),
        ({"period_days": 36_501}, "period_days: must be at most 36500"),
        ({"name": "a\x00b"}, "name: must not contain NUL characters"),
        ({"name": "a\ud800b"}, "name: Input should be a valid string, unable to parse raw"),
        ({"name": "n" * 10_001}, "name: String should have at most 10000 characters"),
        ({"alert_levels": list(range(1, 31))}, "30 levels are too many to store"),
        ({"scope": "agent"}, "an agent budget needs a target"),
        ({"scope": "flow"}, "a flow budget needs a target"),
        ({"scope": "global", "target": "researcher"}, "a global budget takes no target"),
        ({"target": "researcher"}, "a global budget takes no target"),
        ({"scope": "user"}, "a user budget needs user_id"),
        ({"scope": "team"}, "scope: Input should be 'user', 'agent', 'flow' or 'global'"),
        ({"alert_type": "panic"}, "alert_type: Input should be 'warning' or 'hard_stop'"),
        ({"user_id": "alice"}, "user_id: Input should be a valid UUID"),
    ],
)
def test_invalid_fields_on_create_and_update(db_url: str, fields: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=f"invalid budget: .*{message}"):
        create_budget(db_url, **(VALID | fields))
    budget = create_budget(db_url, **VALID)
    with pytest.raises(InvalidInputError, match=f"invalid budget: .*{message}"):
        update_budget(db_url, budget.id, **fields)
    assert len(list_budgets(db_url)) == 1


def test_missing_required_fields(db_url: str) -> None:
    with pytest.raises(InvalidInputError) as missing:
        create_budget(db_url, alert_type="warning")
    assert str(missing.value) == "invalid budget: threshold_usd: required: an amount in USD"
    with pytest.raises(InvalidInputError) as missing:
        create_budget(db_url, threshold_usd=1)
    assert str(missing.value) == "invalid budget: alert_type: required: warning or hard_stop"


def test_unknown_fields_name_the_accepted_ones(db_url: str) -> None:
    with pytest.raises(InvalidInputError) as failure:
        create_budget(db_url, **VALID, colour="red", current_spend_usd=3)
    assert str(failure.value) == (
        "unknown budget field 'colour', 'current_spend_usd'; accepted fields: id, user_id, "
        "scope, threshold_usd, period_days, alert_type, alert_at_percentage, is_active, "
        "email_notification, name, target, alert_levels, per_user"
    )
    budget = create_budget(db_url, **VALID)
    with pytest.raises(InvalidInputError, match="unknown budget field 'id'; fields an update"):
        update_budget(db_url, budget.id, id=uuid.uuid4())
    with pytest.raises(InvalidInputError, match="unknown budget field 'threshold'"):
        update_budget(db_url, budget.id, threshold=5)


def test_a_taken_id_is_a_clear_error(db_url: str) -> None:
    budget = create_budget(db_url, **VALID)
    with pytest.raises(InvalidInputError, match="its id is already taken"):
        create_budget(db_url, **VALID, id=budget.id)


def test_a_database_without_budget_tables_says_how_to_create_them(empty_db_url: str) -> None:
    for call in (lambda: list_budgets(empty_db_url), lambda: check_budget(empty_db_url),
                 lambda: budget_status(empty_db_url),
                 lambda: create_budget(empty_db_url, **VALID)):  # fmt: skip
        with pytest.raises(SchemaError, match="no budgetalerts table; run `aa-notebooks init-db`"):
            call()


def test_a_user_budget_whose_user_never_ran_warns(db_url: str) -> None:
    """A mistyped user id made a budget that counted nothing, silently (on the kit's own
    database, where the unknown user is added rather than refused)."""
    ran, typo = uuid.UUID(int=0xA1), uuid.UUID(int=0xA2)
    record(db_url, "1", NOW - timedelta(hours=1), user_id=ran)
    with pytest.warns(UserWarning, match=f"no executions of user {typo} yet: .*check the id"):
        create_budget(db_url, scope="user", user_id=typo, threshold_usd=1,
                      alert_type="hard_stop")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        create_budget(db_url, scope="user", user_id=ran, threshold_usd=1,
                      alert_type="hard_stop")  # fmt: skip


def test_an_agent_budget_whose_agent_never_ran_warns_with_the_closest_name(db_url: str) -> None:
    """A typo (a trailing space) made a hard stop that refused nothing, silently."""
    record(db_url, "1", NOW - timedelta(hours=1), agent_name="planner")
    said = r"no executions of agent 'planner ' yet: .*did you mean 'planner'\?"
    with pytest.warns(UserWarning, match=said):
        create_budget(db_url, scope="agent", target="planner ", threshold_usd=1,
                      alert_type="hard_stop")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        create_budget(db_url, scope="agent", target="planner", threshold_usd=1,
                      alert_type="hard_stop")  # fmt: skip
