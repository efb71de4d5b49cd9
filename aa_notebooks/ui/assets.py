"""Where the custom widgets' front end is: `widgets/` of a checkout, or where the wheel put it.

The wheel ships `widgets/*.js` and `widgets/*.css` as data files under
`<prefix>/share/aa-notebooks/widgets`; anywidget reads them from there, so nothing is loaded
from the network.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

from aa_notebooks.errors import ConfigurationError

CHECKOUT_WIDGETS = Path(__file__).resolve().parents[2] / "widgets"
INSTALLED_WIDGETS = Path(sysconfig.get_path("data")) / "share" / "aa-notebooks" / "widgets"


def asset(name: str) -> Path:
    """The path of one front-end file (`executions_grid.js`, ...)."""
    for folder in (CHECKOUT_WIDGETS, INSTALLED_WIDGETS):
        if (folder / name).is_file():
            return folder / name
    raise ConfigurationError(
        f"the widget file {name} is in neither {CHECKOUT_WIDGETS} nor {INSTALLED_WIDGETS}: "
        "reinstall aa-notebooks"
    )
