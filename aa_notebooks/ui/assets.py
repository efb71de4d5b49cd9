"""Where the custom widgets' front end is: `widgets/` of a checkout, or where the wheel put it.

The wheel ships `widgets/*.js` and `widgets/*.css` as data files under
`<prefix>/share/aa-notebooks/widgets`; anywidget reads them from there, so nothing is loaded
from the network.
"""

from __future__ import annotations

from pathlib import Path

from aa_notebooks.shipped import CHECKOUT, INSTALLED, shipped_file

CHECKOUT_WIDGETS = CHECKOUT / "widgets"
INSTALLED_WIDGETS = INSTALLED / "widgets"


def asset(name: str) -> Path:
    """The path of one front-end file (`executions_grid.js`, ...)."""
    return shipped_file(CHECKOUT_WIDGETS, INSTALLED_WIDGETS, name, "widget file")
