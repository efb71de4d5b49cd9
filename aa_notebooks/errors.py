"""One exception hierarchy for the kit: every message says what was wrong and what to do."""

from __future__ import annotations

from decimal import Decimal


class AnalyticsError(Exception):
    """Base of every error the kit raises on purpose; its message is meant for the user."""

    def _render_traceback_(self) -> list[str]:
        """Show one readable line in IPython/Jupyter instead of a traceback."""
        return [f"{type(self).__name__}: {self}"]


class ConfigurationError(AnalyticsError):
    """A setting (database URL, price file, SMTP settings) is missing or malformed."""


class DatabaseUnavailableError(AnalyticsError):
    """The database could not be reached or opened."""


class SchemaError(AnalyticsError):
    """The database lacks tables or columns the requested feature needs."""


class StoredValueError(SchemaError):
    """A value another program stored that its column of the data contract cannot hold (an id
    that is no UUID): the tables are there, a row is not readable."""


class InvalidInputError(AnalyticsError, ValueError):
    """A value given by the user (period, date, status, sort column...) is not accepted."""


class UnsupportedHereError(InvalidInputError, SchemaError):
    """What was asked needs a part of the schema this database lacks (an agent budget on an
    AgentOS database): the request has to change, not the server, so the API answers 422."""


class RefusedQueryError(InvalidInputError):
    """An ad hoc query that is not one plain SELECT (or reaches past the user scope); refused
    before it reached the database."""


class NotFoundError(AnalyticsError, LookupError):
    """An execution, agent or budget with the given id does not exist."""


class PricingError(ConfigurationError):
    """The user price file is malformed."""


class MissingExtraError(AnalyticsError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{package} is not installed; install it with: pip install 'aa-notebooks[{extra}]'"
        )


class BudgetExceededError(AnalyticsError):
    """A hard_stop budget in a matching scope has reached its threshold."""

    def __init__(self, budget_name: str, spend_usd: Decimal, threshold_usd: Decimal) -> None:
        self.budget_name = budget_name
        self.spend_usd = spend_usd
        self.threshold_usd = threshold_usd
        super().__init__(
            f"budget {budget_name!r} is exceeded: ${spend_usd} spent of ${threshold_usd} "
            "(hard stop); raise its threshold or wait for the window to roll over"
        )


class ReportError(AnalyticsError):
    """A report could not be made or sent; says what is kept on disk and where."""


def first_line(message: object, default: str = "(no message)") -> str:
    """The first line of an error's message, for a one-line error or log entry; `default` when
    the message is blank."""
    text = str(message).strip()
    return text.splitlines()[0] if text else default
