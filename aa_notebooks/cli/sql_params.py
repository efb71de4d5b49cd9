"""`{name}` placeholders in a SQL cell become bound parameters, never pasted text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aa_notebooks.errors import InvalidInputError

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def bind_placeholders(query: str, values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Replace each `{name}` by the bind marker `:name` and collect its value from `values`.

    Other braces (`{}`, `{1}`, JSON in string literals) are left as they are: they are SQL text.
    """
    names = dict.fromkeys(PLACEHOLDER.findall(query))
    missing = [n for n in names if n not in values]
    if missing:
        raise InvalidInputError(
            f"the query uses {{{missing[0]}}} but no variable {missing[0]!r} is defined; "
            "define it in the notebook (or pass --param name=value on the command line)"
        )
    return PLACEHOLDER.sub(lambda m: f":{m.group(1)}", query), {n: values[n] for n in names}
