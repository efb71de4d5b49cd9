"""The report's building blocks: charts drawn as PNG whatever text an agent's name carries."""

from __future__ import annotations

import altair as alt
import pandas as pd
import pytest

from aa_notebooks.reporting.blocks import chart, xml_safe


def test_control_characters_are_shown_as_replacement_characters() -> None:
    spec = {"data": {"values": [{"agent\x01": "bell\x07 esc\x1b[8m", "n": 1}]}, "title": "a\tb\n"}
    assert xml_safe(spec) == {
        "data": {"values": [{"agent\ufffd": "bell\ufffd esc\ufffd[8m", "n": 1}]},
        "title": "a\tb\n",  # tab and newline are XML's own
    }


def test_a_chart_of_agents_named_with_control_characters_is_drawn() -> None:
    """vl-convert aborted the process (no exception) on a name holding BEL or ESC."""
    frame = pd.DataFrame({"agent": ["ring\x07", "\x1b]0;title\x07"], "cost": [1.5, 2.0]})
    image = chart(alt.Chart(frame).mark_bar().encode(x="cost", y="agent"), "cost by agent")
    assert image.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.width > 0


def test_a_chart_of_more_rows_than_altair_embeds_is_drawn() -> None:
    """Altair refuses over 5,000 rows for a page; a report draws its charts itself."""
    frame = pd.DataFrame({"day": range(6_000), "cost": [0.5] * 6_000})
    image = chart(alt.Chart(frame).mark_bar().encode(x="day:Q", y="cost:Q"), "many bars")
    assert image.data[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(alt.MaxRowsError):  # the global setting is as it was
        alt.Chart(frame).mark_bar().encode(x="day:Q").to_dict()
