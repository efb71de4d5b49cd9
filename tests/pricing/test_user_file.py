"""The user price file: adds and overrides prices, and rejects every malformed shape clearly."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from aa_notebooks.db.schema import TokenUsage, table_of
from aa_notebooks.errors import PricingError
from aa_notebooks.pricing import (
    PricedCost,
    PriceSource,
    calculate_cost,
    is_priced,
    load_price_file,
    price_source,
    priced_cost,
    reset_pricing_cache,
    set_price_file,
)
from aa_notebooks.pricing.rates import Rates
from aa_notebooks.pricing.resolver import SOURCE_LENGTH, file_label
from aa_notebooks.pricing.user_file import UserPrice

WriteFile = Callable[[str], Path]

FINETUNE_AND_GPT_4O = """
[models."my-finetune"]
input_per_million = 1.50
output_per_million = 6.00

[models."gpt-4o"]
input_per_million = 2.00
output_per_million = 8.00
"""


def test_file_adds_a_model(write_price_file: WriteFile, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AA_PRICING_FILE", str(write_price_file(FINETUNE_AND_GPT_4O)))
    # $1.50 / $6.00 per 1M: 1000 * 1.50 / 1e6 + 500 * 6.00 / 1e6 = 0.0015 + 0.003
    assert calculate_cost("my-finetune", 1000, 500) == Decimal("0.004500")
    assert is_priced("my-finetune")
    assert price_source("my-finetune") == PriceSource(
        "user-file", "my-finetune", Decimal("1.5"), Decimal("6"), None,
        version="price file prices-1.toml",
    )  # fmt: skip


@pytest.mark.parametrize("variant", ["gpt-4o", " GPT-4o ", "openai/gpt-4o", "azure/gpt-4o"])
def test_file_overrides_the_package(
    write_price_file: WriteFile, monkeypatch: pytest.MonkeyPatch, variant: str
) -> None:
    monkeypatch.setenv("AA_PRICING_FILE", str(write_price_file(FINETUNE_AND_GPT_4O)))
    # file: $2.00 / $8.00 per 1M (package: $2.50 / $10): 1000 * 2 / 1e6 + 500 * 8 / 1e6
    assert calculate_cost(variant, 1000, 500) == Decimal("0.002") + Decimal("0.004")
    source = price_source(variant)
    assert source is not None
    assert (source.source, source.matched_name) == ("user-file", "gpt-4o")


def test_models_not_in_the_file_keep_package_prices(
    write_price_file: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AA_PRICING_FILE", str(write_price_file(FINETUNE_AND_GPT_4O)))
    # gpt-4o-mini from the package, $0.15 / $0.60: 1000 * 0.15 / 1e6 + 500 * 0.60 / 1e6
    assert calculate_cost("gpt-4o-mini", 1000, 500) == Decimal("0.000450")


def test_file_names_match_ignoring_case_and_prefixes(write_price_file: WriteFile) -> None:
    set_price_file(
        write_price_file(
            '[models."Claude-3-5-Sonnet-20240620"]\ninput_per_million = 1\noutput_per_million = 2\n'
        )
    )
    # $1 / $2 per 1M: 1000 * 1 / 1e6 + 500 * 2 / 1e6 = 0.001 + 0.001
    for variant in [
        "claude-3-5-sonnet-20240620",
        "CLAUDE-3-5-SONNET-20240620",
        "anthropic/claude-3-5-sonnet-20240620",
        "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
    ]:
        assert calculate_cost(variant, 1000, 500) == Decimal("0.002000"), variant


def test_integer_prices_are_accepted(write_price_file: WriteFile) -> None:
    set_price_file(
        write_price_file('[models."m"]\ninput_per_million = 3\noutput_per_million = 0\n')
    )
    # 1000 * 3 / 1e6 + 500 * 0 / 1e6
    assert calculate_cost("m", 1000, 500) == Decimal("0.003000")


def test_set_price_file_wins_over_the_environment(
    write_price_file: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = write_price_file('[models."m"]\ninput_per_million = 1\noutput_per_million = 1\n')
    chosen = write_price_file('[models."m"]\ninput_per_million = 2\noutput_per_million = 2\n')
    monkeypatch.setenv("AA_PRICING_FILE", str(env_file))
    set_price_file(chosen)
    # (1000 + 1000) * 2 / 1e6
    assert calculate_cost("m", 1000, 1000) == Decimal("0.004000")
    set_price_file(None)
    # (1000 + 1000) * 1 / 1e6
    assert calculate_cost("m", 1000, 1000) == Decimal("0.002000")


def test_changing_the_environment_variable_switches_files(
    write_price_file: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write_price_file('[models."gpt-4o"]\ninput_per_million = 1\noutput_per_million = 1\n')
    second = write_price_file('[models."gpt-4o"]\ninput_per_million = 3\noutput_per_million = 3\n')
    monkeypatch.setenv("AA_PRICING_FILE", str(first))
    assert calculate_cost("gpt-4o", 1000, 0) == Decimal("0.001000")  # 1000 * 1 / 1e6
    monkeypatch.setenv("AA_PRICING_FILE", str(second))
    assert calculate_cost("gpt-4o", 1000, 0) == Decimal("0.003000")  # 1000 * 3 / 1e6
    monkeypatch.delenv("AA_PRICING_FILE")
    assert calculate_cost("gpt-4o", 1000, 0) == Decimal("0.002500")  # package: 1000 * 2.50 / 1e6


def test_edited_file_is_read_again_after_reset(write_price_file: WriteFile) -> None:
    path = write_price_file('[models."m"]\ninput_per_million = 1\noutput_per_million = 1\n')
    set_price_file(path)
    assert calculate_cost("m", 1000, 0) == Decimal("0.001000")  # 1000 * 1 / 1e6
    path.write_text('[models."m"]\ninput_per_million = 5\noutput_per_million = 1\n')
    reset_pricing_cache()
    assert calculate_cost("m", 1000, 0) == Decimal("0.005000")  # 1000 * 5 / 1e6


def test_an_edited_file_prices_what_follows_without_a_reset(
    write_price_file: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file was read once per process: a long-lived agent or `serve` priced every later
    run at the old price."""
    from aa_notebooks.pricing import resolver

    monkeypatch.setattr(resolver, "RECHECK_S", 0.0)  # look every time, not once a second
    path = write_price_file('[models."m"]\ninput_per_million = 1\noutput_per_million = 1\n')
    monkeypatch.setenv("AA_PRICING_FILE", str(path))
    assert calculate_cost("m", 1000, 0) == Decimal("0.001000")  # 1000 * 1 / 1e6
    path.write_text('[models."m"]\ninput_per_million = 5.5\noutput_per_million = 1\n')
    assert calculate_cost("m", 1000, 0) == Decimal("0.005500")  # 1000 * 5.5 / 1e6


def test_an_edit_that_keeps_size_and_modification_time_is_seen_and_a_gone_file_is_not_cached(
    write_price_file: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cp -p` sets the modification time back, and a price of the same length keeps the
    size: the old price stayed. A file looked at while missing had its content cached under
    "missing", and came back, stale, the next time it was missing."""
    import os

    from aa_notebooks.pricing import resolver

    monkeypatch.setattr(resolver, "RECHECK_S", 0.0)
    path = write_price_file('[models."m"]\ninput_per_million = 1\noutput_per_million = 1\n')
    monkeypatch.setenv("AA_PRICING_FILE", str(path))
    assert calculate_cost("m", 1000, 0) == Decimal("0.001000")  # 1000 * 1 / 1e6
    before = path.stat()
    path.write_text('[models."m"]\ninput_per_million = 9\noutput_per_million = 1\n')
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    assert calculate_cost("m", 1000, 0) == Decimal("0.009000")  # 1000 * 9 / 1e6
    path.unlink()
    for _ in range(2):  # each time it is missing, said so: no price kept from before
        with pytest.raises(PricingError, match=r"prices-1\.toml: no such file"):
            calculate_cost("m", 1000, 0)


def test_a_broken_file_is_read_once_until_it_changes(
    write_price_file: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A typo in the file had every priced call read and parse it again (about 39 µs each, in
    the agent's thread); the error is kept until the file changes."""
    from aa_notebooks.pricing import resolver

    reads: list[str] = []

    def counted(path: str) -> dict[str, UserPrice]:
        reads.append(path)
        return load_price_file(path)

    monkeypatch.setattr(resolver, "load_price_file", counted)
    monkeypatch.setattr(resolver, "RECHECK_S", 0.0)
    path = write_price_file('[models."m"]\ninput_per_mllion = 1\noutput_per_million = 1\n')
    monkeypatch.setenv("AA_PRICING_FILE", str(path))
    for _ in range(3):
        with pytest.raises(PricingError, match="input_per_mllion"):
            calculate_cost("m", 1000, 0)
    assert len(reads) == 1
    path.write_text('[models."m"]\ninput_per_million = 2\noutput_per_million = 1\n')
    assert calculate_cost("m", 1000, 0) == Decimal("0.002000")  # 1000 * 2 / 1e6
    assert len(reads) == 2


def test_an_entry_prices_every_name_the_package_gives_its_model(
    write_price_file: WriteFile,
) -> None:
    """An entry for `gpt-4o` was passed over for `gpt-4o-2024-08-06`, which genai-prices
    resolves to gpt-4o: a negotiated price was silently ignored for the names agents log."""
    set_price_file(write_price_file(FINETUNE_AND_GPT_4O))
    # file: $2.00 / $8.00 per 1M: 1000 * 2 / 1e6 + 500 * 8 / 1e6
    for variant in ["gpt-4o-2024-08-06", "azure/gpt-4o-2024-08-06", "openai:gpt-4o-2024-08-06"]:
        assert calculate_cost(variant, 1000, 500) == Decimal("0.006000"), variant
        source = price_source(variant)
        assert source is not None
        assert (source.source, source.matched_name) == ("user-file", "gpt-4o"), variant
    set_price_file(
        write_price_file(
            FINETUNE_AND_GPT_4O
            + '[models."gpt-4o-2024-08-06"]\ninput_per_million = 3\noutput_per_million = 3\n'
        )
    )
    # the dated entry names that name itself, so it wins: (1000 + 500) * 3 / 1e6
    assert calculate_cost("gpt-4o-2024-08-06", 1000, 500) == Decimal("0.004500")
    # and a model the package knows apart keeps its own price: gpt-4o-mini $0.15 / $0.60
    assert calculate_cost("gpt-4o-mini", 1000, 500) == Decimal("0.000450")


def test_load_price_file_returns_validated_entries(write_price_file: WriteFile) -> None:
    entries = load_price_file(write_price_file(FINETUNE_AND_GPT_4O))
    assert entries == {
        "my-finetune": UserPrice("my-finetune", Rates(Decimal("1.5"), Decimal("6"))),
        "gpt-4o": UserPrice("gpt-4o", Rates(Decimal("2"), Decimal("8"))),
    }


def test_empty_file_prices_nothing(write_price_file: WriteFile) -> None:
    assert load_price_file(write_price_file("")) == {}


RANGE = "must be a number of dollars per million tokens from 0 to 1,000,000"
ENTRY = '[models."foo"]\n'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[models.foo\n", "invalid TOML"),
        (ENTRY + "input_per_million = 1\n", 'models."foo": missing output_per_million'),
        (ENTRY + "output_per_million = 1\n", 'models."foo": missing input_per_million'),
        (
            ENTRY + "input_per_million = 1\noutput_per_million = 'abc'\n",
            f"models.\"foo\": output_per_million {RANGE}, got 'abc'",
        ),
        (
            ENTRY + "input_per_million = -0.5\noutput_per_million = 1\n",
            f'models."foo": input_per_million {RANGE}, got -0.5',
        ),
        (
            ENTRY + "input_per_million = true\noutput_per_million = 1\n",
            f'models."foo": input_per_million {RANGE}, got True',
        ),
        (
            ENTRY + "input_per_million = nan\noutput_per_million = 1\n",
            f'models."foo": input_per_million {RANGE}, got nan',
        ),
        (
            ENTRY + "input_per_million = inf\noutput_per_million = 1\n",
            f'models."foo": input_per_million {RANGE}, got inf',
        ),
        (
            ENTRY + "input_per_million = 1e300\noutput_per_million = 1\n",
            f'models."foo": input_per_million {RANGE}, got 1e+300',
        ),
        (
            ENTRY + "input_per_million = [1]\noutput_per_million = 1\n",
            f'models."foo": input_per_million {RANGE}, got [1]',
        ),
        (
            ENTRY + "input_per_million = 1\noutput_per_million = 1\ncurrency = 'EUR'\n",
            "models.\"foo\": unknown key 'currency'",
        ),
        ("[models]\nfoo = 3\n", 'models."foo": expected a table'),
        ("models = 3\n", "models must be tables"),
        ("[prices.foo]\ninput_per_million = 1\n", "unknown top-level key 'prices'"),
        (
            '[models."Foo"]\ninput_per_million = 1\noutput_per_million = 1\n'
            + ENTRY
            + "input_per_million = 1\noutput_per_million = 1\n",
            "models 'Foo' and 'foo' are the same model",
        ),
        (
            '[models." "]\ninput_per_million = 1\noutput_per_million = 1\n',
            'models." ": the model name is empty',
        ),
    ],
)
def test_malformed_file_names_file_and_entry(
    write_price_file: WriteFile, monkeypatch: pytest.MonkeyPatch, text: str, problem: str
) -> None:
    path = write_price_file(text)
    expected = re.escape(f"pricing file {path}: {problem}")
    with pytest.raises(PricingError, match=expected):
        load_price_file(path)
    with pytest.raises(PricingError, match=expected):
        set_price_file(path)
    monkeypatch.setenv("AA_PRICING_FILE", str(path))
    with pytest.raises(PricingError, match=expected):
        calculate_cost("gpt-4o", 1, 1)


def test_a_file_in_another_format_is_told_it_must_be_toml(write_price_file: WriteFile) -> None:
    """A YAML price file got "invalid TOML (Expected '=' ...)", not what a price file is."""
    path = write_price_file("models:\n  house:\n    input_per_million: 1\n")
    with pytest.raises(PricingError, match=r"invalid TOML \(.*\); a price file is TOML, e\.g\."):
        load_price_file(path)


def test_exact_message_for_a_non_numeric_price(write_price_file: WriteFile) -> None:
    path = write_price_file(ENTRY + "input_per_million = 1\noutput_per_million = 'abc'\n")
    with pytest.raises(PricingError) as raised:
        load_price_file(path)
    assert str(raised.value) == (
        f'pricing file {path}: models."foo": output_per_million must be a number of dollars per '
        "million tokens from 0 to 1,000,000, got 'abc'"
    )


def test_missing_file_from_the_environment_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nope.toml"
    monkeypatch.setenv("AA_PRICING_FILE", str(missing))
    with pytest.raises(PricingError, match=re.escape(f"pricing file {missing}: no such file")):
        calculate_cost("gpt-4o", 1, 1)
    with pytest.raises(PricingError, match="no such file"):
        is_priced("gpt-4o")


def test_missing_file_given_to_set_price_file_is_an_error_and_not_used(tmp_path: Path) -> None:
    with pytest.raises(PricingError, match="no such file"):
        set_price_file(tmp_path / "nope.toml")
    # the package price still applies: 1000 * 2.50 / 1e6
    assert calculate_cost("gpt-4o", 1000, 0) == Decimal("0.002500")


DATED = """
[models."m"]
input_per_million = 4
output_per_million = 8

[models."m".prices."2026-03-01"]
input_per_million = 2
output_per_million = 4
cache_read_per_million = 0.5

[models."m".prices.2026-06-01]
input_per_million = 1
output_per_million = 2
"""


def test_dated_prices_apply_by_the_calls_time(write_price_file: WriteFile) -> None:
    """1000 input and 500 output tokens: $4/$8 before March, $2/$4 from 2026-03-01, $1/$2 from
    2026-06-01 (UTC days; a naive time is UTC)."""
    set_price_file(write_price_file(DATED))
    label = "price file prices-1.toml"
    cases = [
        # 1000 * 4 / 1e6 + 500 * 8 / 1e6 = 0.004 + 0.004
        (datetime(2026, 2, 28, 23, 59, tzinfo=UTC), PricedCost(Decimal("0.008000"), label, None)),
        # 1000 * 2 / 1e6 + 500 * 4 / 1e6 = 0.002 + 0.002; 23:30 at UTC-2 is 01:30 UTC on March 1
        (
            datetime(2026, 2, 28, 23, 30, tzinfo=timezone(timedelta(hours=-2))),
            PricedCost(Decimal("0.004000"), label, date(2026, 3, 1)),
        ),
        # 1000 * 1 / 1e6 + 500 * 2 / 1e6 = 0.001 + 0.001
        (datetime(2026, 6, 1), PricedCost(Decimal("0.002000"), label, date(2026, 6, 1))),
    ]
    for at, expected in cases:
        assert priced_cost("m", 1000, 500, at=at) == expected
    # The March price's cache rate: 600 uncached * 2 + 400 read * 0.5 = 1200 + 200 -> $0.0014
    at = datetime(2026, 4, 1, tzinfo=UTC)
    assert calculate_cost("m", 1000, 0, cache_read_tokens=400, at=at) == Decimal("0.001400")


def test_dated_prices_alone_reach_back_to_the_first(write_price_file: WriteFile) -> None:
    set_price_file(write_price_file(DATED.split('[models."m".prices.2026-06-01]')[0].replace(
        "input_per_million = 4\noutput_per_million = 8\n", "")))  # fmt: skip
    old = datetime(2020, 1, 1, tzinfo=UTC)  # before the only date: that price still applies
    assert priced_cost("m", 1000, 500, at=old).price_date == date(2026, 3, 1)
    assert calculate_cost("m", 1000, 500, at=old) == Decimal("0.004000")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[models."m".prices."March"]\ninput_per_million = 1\noutput_per_million = 1\n',
         r'models\."m"\.prices\."March": expected a date like 2026-03-01'),
        ('[models."m".prices."2026-03-01"]\ninput_per_million = 1\n',
         r'prices\."2026-03-01": missing output_per_million'),
        ('[models."m"]\nprices = 3\n', "prices must be tables like"),
        ('[models."m".prices."2026-03-01"]\ninput_per_million = -1\noutput_per_million = 1\n',
         "input_per_million must be a number of dollars per million tokens"),
    ],
)  # fmt: skip
def test_malformed_dated_prices_say_where(
    write_price_file: WriteFile, text: str, message: str
) -> None:
    with pytest.raises(PricingError, match=message):
        load_price_file(write_price_file(text))


def test_the_source_label_fits_the_column_that_stores_it() -> None:
    column = table_of(TokenUsage).c.price_source.type.length
    assert SOURCE_LENGTH == column == 64
    assert file_label("/prices/house.toml") == "price file house.toml"
    long = "x" * 40 + "-ends-here.toml"  # 55 characters, 2 past the 53 there is room for
    assert file_label(long) == "price file " + "x" * 26 + "…" + "x" * 11 + "-ends-here.toml"
