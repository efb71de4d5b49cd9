"""Files the kit ships beside its code (report notebooks, the widgets' front end): found in the
checkout's folder when run from source, else where the wheel installed its data files,
`<prefix>/share/aa-notebooks/<folder>`."""

from __future__ import annotations

import sysconfig
from pathlib import Path

from aa_notebooks.errors import ConfigurationError

CHECKOUT = Path(__file__).resolve().parents[1]
INSTALLED = Path(sysconfig.get_path("data")) / "share" / "aa-notebooks"


def shipped_file(checkout: Path, installed: Path, name: str, what: str) -> Path:
    """`name` in the checkout folder or the installed one; else an error saying to reinstall
    (`what` names the kind of file for the message)."""
    for folder in (checkout, installed):
        if (folder / name).is_file():
            return folder / name
    raise ConfigurationError(
        f"the {what} {name} is in neither {checkout} nor {installed}: reinstall aa-notebooks"
    )
