"""A report's summary: shown as HTML in the report, read as plain text for the email."""

from __future__ import annotations

from dataclasses import dataclass

SUMMARY_TAG = "summary"


@dataclass(frozen=True)
class Summary:
    """Both forms of one summary; the cell tagged `summary` displays it, the email reuses `text`."""

    text: str
    html: str

    def _repr_mimebundle_(self, **kwargs: object) -> dict[str, str]:
        return {"text/plain": self.text, "text/html": self.html}
