"""An agent's label: the name on its newest execution, for an agent that was renamed.

Aggregates label an agent that has an id with the greatest of its names (an aggregate costs no
sort), which is its only name unless it was renamed. A result whose rows give an agent two
names (a group's least and greatest name differ, or two groups disagree) labels it instead with
the name of its latest execution in scope that started before the window's end:
`newest_names` looks that up, one index seek per renamed agent (agent_id, started_at).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection, bindparam, select

from aa_notebooks.analytics.filters import EXECUTIONS, in_scope
from aa_notebooks.analytics.pairs import Pair
from aa_notebooks.analytics.source import Source

Names = tuple[uuid.UUID | None, str | None, str | None]
"""An agent's id, and the least and greatest name one group of its rows carries."""


def renamed(groups: Iterable[Names]) -> set[uuid.UUID]:
    """The agent ids whose groups carry more than one name between them."""
    seen: dict[uuid.UUID, set[str]] = {}
    for agent_id, least, greatest in groups:
        if agent_id is not None:
            seen.setdefault(agent_id, set()).update(n for n in (least, greatest) if n is not None)
    return {agent_id for agent_id, names in seen.items() if len(names) > 1}


def newest_names(
    source: Source, connection: Connection, agent_ids: Iterable[uuid.UUID], before: datetime
) -> dict[uuid.UUID, str]:
    """Each agent's name on its latest named execution in scope that started before `before`
    (the greatest name among executions that started at the same moment)."""
    c = EXECUTIONS.c
    query = (
        select(c.agent_name)
        .where(
            *in_scope(source),
            c.agent_id == bindparam("agent_id", type_=c.agent_id.type),
            c.started_at < before,
            c.agent_name.is_not(None),
        )
        .order_by(c.started_at.desc(), source.dialect.text_order(c.agent_name).desc())
        .limit(1)
    )
    found = {}
    for agent_id in sorted(agent_ids, key=str):  # one statement, compiled once
        name = connection.execute(query, {"agent_id": agent_id}).scalar()
        if name is not None:
            found[agent_id] = name
    return found


def newest_where_renamed(
    source: Source, connection: Connection, groups: Iterable[Names], before: datetime
) -> dict[uuid.UUID, str]:
    """`newest_names` of the agents that `groups` show `renamed` (none looked up otherwise)."""
    agents = renamed(groups)
    return newest_names(source, connection, agents, before) if agents else {}


def with_newest_names(
    source: Source, connection: Connection, pairs: Sequence[Pair], before: datetime
) -> list[Pair]:
    """`pairs` with each renamed agent's newest name (the others as they are)."""
    names = ((pair.agent_id, pair.least_name, pair.agent_name) for pair in pairs)
    newest = newest_where_renamed(source, connection, names, before)
    return [
        replace(pair, agent_name=newest[pair.agent_id], least_name=newest[pair.agent_id])
        if pair.agent_id in newest
        else pair
        for pair in pairs
    ]
