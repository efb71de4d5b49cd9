"""Colors that charts, widgets and reports share, so a status or a step looks the same in each."""

OTHER_COLOR = "#6b7280"
"""Grey, for what has no color of its own."""
