"""Parse raw export rows (all text) into typed rows, and say why each rejected row fails.

Nothing is dropped silently: every row of a raw table ends up in the typed frame, in the
failures frame with the column, the raw value and a reason in plain words, or in the count of
rows that repeat an earlier row. The rules come from the pandera models in
:mod:`features.canonical.contract`; this module adds parsing and finding duplicates.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import reduce

import pandera.errors
import pandera.polars as pa
import polars as pl

from features.canonical import contract

ROW = "_row"
"""The row as a person finds it in the source file (CSV line, Excel row, Parquet row + 1)."""

FAILURE_SCHEMA = {ROW: pl.Int64, "column": pl.String, "value": pl.String, "reason": pl.String}

_TRUE = ("true", "1", "yes", "y", "ja", "j", "waar", "t")
_FALSE = ("false", "0", "no", "n", "nee", "onwaar", "f")
_GENDER_ALIASES = {"V": "F", "W": "F", "VROUW": "F", "MAN": "M", "FEMALE": "F", "MALE": "M"}


@dataclass(frozen=True)
class Parsed:
    """Typed rows that passed every check, one failure row per rejected row, and how many rows
    repeated an earlier row (see :func:`parse_table`).

    ``distinct`` holds, for each column whose positions were kept, its distinct raw values as
    parsed; each row's :func:`position_column` is where its value is among them.
    """

    rows: pl.DataFrame
    failures: pl.DataFrame
    distinct: dict[str, pl.Series] = field(default_factory=dict)
    duplicates: int = 0


def position_column(name: str) -> str:
    """The column holding each row's position among the distinct raw values of ``name``."""
    return f"_{name}_at"


@dataclass(frozen=True)
class _Typed:
    """The typed columns of a table, and for each few-valued column its distinct raw values
    as parsed, with each row's position among them."""

    columns: list[pl.Series]
    distinct: dict[str, pl.Series]
    positions: dict[str, pl.Series]

    def filter(self, keep: pl.Series) -> _Typed:
        """The rows where ``keep`` is true (the distinct values stay as they are)."""
        return _Typed(
            columns=[column.filter(keep) for column in self.columns],
            distinct=self.distinct,
            positions={name: p.filter(keep) for name, p in self.positions.items()},
        )


def empty_failures() -> pl.DataFrame:
    """A failures frame with no rows."""
    return pl.DataFrame(schema=FAILURE_SCHEMA)


def _blank_to_null(name: str) -> pl.Expr:
    """The text without surrounding blanks, null when nothing is left."""
    return pl.col(name).str.strip_chars().replace("", None)


def _parsed(name: str, dtype: pl.DataType) -> pl.Expr:
    text = _blank_to_null(name)
    if dtype == pl.Date:
        # Four-digit years only: "02/09/24" would otherwise be 2 September of the year 24.
        return pl.coalesce(
            pl.when(text.str.contains(r"^\d{4}-\d{1,2}-\d{1,2}$")).then(
                text.str.to_date("%Y-%m-%d", strict=False)
            ),
            pl.when(text.str.contains(r"^\d{1,2}/\d{1,2}/\d{4}$")).then(
                text.str.to_date("%d/%m/%Y", strict=False)
            ),
        )
    if dtype.is_integer():
        # Excel and some exports write whole numbers as "3.0".
        return text.str.replace(r"\.0+$", "").str.to_integer(strict=False).cast(dtype, strict=False)
    if dtype == pl.Boolean:
        lower = text.str.to_lowercase()
        return pl.when(lower.is_in(_TRUE)).then(True).when(lower.is_in(_FALSE)).then(False)
    if name == "time":  # 8:31 is 08:31: some school systems drop the leading zero
        return text.str.replace(r"^(\d):", "0${1}:")
    if name in ("period", "gender"):
        upper = text.str.to_uppercase()
        return upper.replace(_GENDER_ALIASES) if name == "gender" else upper
    return text


def _categories(categorical: pl.Series, categories: pl.Categories) -> pl.Series:
    """The values of ``categorical``, a column cast to ``categories`` of its own, by position."""
    # Read while ``categorical`` is alive: the categories are freed with their last column.
    return categories.to_series().alias(categorical.name)


def _typed(raw: pl.DataFrame, dtypes: dict[str, pl.DataType], kept: Sequence[str] = ()) -> _Typed:
    """The columns of ``raw`` named in ``dtypes``, typed.

    Identifiers (``*_id``) are parsed row by row, unless they are ``kept`` (a later step works
    on their distinct values too). Every other column holds few distinct texts (an export of
    millions of absences has a few hundred dates, a dozen codes and periods), so each distinct
    text is parsed once and mapped back. The texts are found in one pass over the rows, as the
    categories of a cast to a categorical of their own (in order of first appearance). The
    work on the rows of every column is done in two ``select`` calls, which polars runs in
    parallel: one finds the distinct texts, the other maps the parsed ones back.
    """
    few = {
        name: pl.Categories.random() for name in dtypes if not name.endswith("_id") or name in kept
    }
    per_row = raw.select(
        *[
            pl.col(name).cast(pl.Categorical(few[name]))
            if name in few
            else _parsed(name, dtype).alias(name)
            for name, dtype in dtypes.items()
        ]
    )
    distinct = {
        name: _categories(per_row[name], few[name]).to_frame().select(_parsed(name, dtypes[name]))
        for name in few
    }
    positions = per_row.select(pl.col(name).to_physical() for name in few)
    mapped_back = positions.select(
        pl.lit(distinct[name].to_series()).gather(pl.col(name)).alias(name) for name in few
    )
    return _Typed(
        columns=[mapped_back[n] if n in few else per_row[n] for n in dtypes],
        distinct={name: distinct[name].to_series() for name in few},
        positions={name: positions[name].alias(position_column(name)) for name in few},
    )


def _parse_reason(name: str, dtype: pl.DataType) -> pl.Expr:
    """Why the text of column ``name`` did not parse as ``dtype``, for each failing row."""
    if dtype == pl.Date:
        return pl.lit("not a date (expected YYYY-MM-DD or DD/MM/YYYY)")
    if dtype.is_integer():
        # A whole number too large for its column (10^10 minutes) is not a typing slip in
        # the digits: say what is wrong with it.
        text = _blank_to_null(name)
        whole = text.str.contains(r"^[+-]?\d+(\.0+)?$")
        return (
            pl.when(whole & text.str.starts_with("-"))
            .then(pl.lit("too far below zero"))
            .when(whole)
            .then(pl.lit("too large a number"))
            .otherwise(pl.lit("not a whole number"))
        )
    if dtype == pl.Boolean:
        return pl.lit("not true/false")
    return pl.lit("not readable")


_CHECK_WORDS = {
    "not_nullable": "missing value",
    "greater_than_or_equal_to(0)": "negative duration",
    f"less_than_or_equal_to({contract.MAX_MINUTES})": (
        f"more than {contract.MAX_MINUTES} minutes (longer than a school day)"
    ),
    "field_uniqueness": "duplicate value",
    contract.NO_CONTROL_CHARACTER: "contains a control character (tab, line break, NUL, ...)",
    contract.NO_PATH_SEPARATOR: "contains a path separator (/ or \\)",
}


def _check_reason(check: str, column: str) -> str:
    if check in _CHECK_WORDS:
        return _CHECK_WORDS[check]
    if check.startswith("isin("):
        choices = re.findall(r"'([^']*)'", check)
        return f"not one of {', '.join(choices)}"
    if check.startswith("notin("):  # only the folder names a school id may not have
        return f"is {' or '.join(contract.DOT_NAMES)} (not usable as a folder name)"
    if check.startswith("str_length("):
        return f"longer than {contract.MAX_ID_LENGTH} characters"
    if check.startswith("in_range("):  # only the plausible window of every date
        return f"outside the plausible years {contract.FIRST_YEAR}-{contract.LAST_YEAR}"
    if check.startswith("str_matches("):
        return "not a time HH:MM" if column == "time" else "not AM, PM or a lesson number 1-12"
    if check.startswith(("greater_than_or_equal_to(", "less_than_or_equal_to(")):
        bounds = {"grade": "1-7", "periods": "0-2 (registrable half-days)"}.get(
            column, "the allowed range"
        )
        return f"outside {bounds}"
    return check


def _row_hash(columns: list[str]) -> pl.Expr:
    """A 64-bit hash of each row's values in ``columns``.

    The columns' own hashes, each with its own seed (so that values swapped between columns
    hash differently), combined with xor: a few times quicker than hashing a struct.
    """
    hashes = [pl.col(name).hash(seed=i) for i, name in enumerate(columns)]
    return reduce(operator.xor, hashes).alias("_hash")


def _is_first(values: pl.Series) -> pl.Series:
    """True for each row whose value (never null: a row hash) no earlier row has.

    As ``is_first_distinct``, quicker: only the rows of a value that more than one row has
    are compared with each other, and an export with no duplicates (the usual case) needs no
    mask to be built.
    """
    repeated = repeated_values(values)
    if repeated.is_empty():
        return pl.repeat(True, values.len(), eager=True)
    shared = values.is_in(repeated.implode())
    first_of_shared = values.filter(shared).is_first_distinct()
    return (~shared).scatter(shared.arg_true().filter(first_of_shared), True)


def repeated_values(values: pl.Series) -> pl.Series:
    """The values (not null) that more than one row has.

    Found by sorting the values and comparing each with the next: for millions of distinct
    values, sorting is quicker than a hash table of them.

    Parameters
    ----------
    values
        Any sortable column, typically a packed key or a row hash.

    Returns
    -------
    pl.Series
        Each value that occurs more than once, once.
    """
    if values.len() < 2:
        return values.clear()
    ordered = values.sort()
    later = ordered.slice(1)
    return later.filter(later == ordered.slice(0, ordered.len() - 1)).unique()


def first_of_duplicates(frame: pl.DataFrame, columns: list[str]) -> pl.Series:
    """True for each row that no earlier row equals in every one of ``columns``.

    Rows are compared by a hash of their values (far cheaper than comparing the values of
    millions of rows); each row whose hash an earlier row has is then compared value by value
    with that row, and should two different rows ever share a hash, every row is compared by
    its values instead.
    """
    hashes = frame.select(_row_hash(columns)).to_series()
    first = _is_first(hashes)
    if first.all():
        return first
    hashed = frame.select(columns).with_columns(hashes)
    later = hashed.filter(~first)
    earlier = hashed.filter(first & hashes.is_in(later["_hash"].implode()))
    pairs = later.join(earlier, on="_hash", suffix="_first")
    if all(pairs[c].eq_missing(pairs[f"{c}_first"]).all() for c in columns):
        return first
    return frame.select(pl.struct(columns).is_first_distinct()).to_series()


def parse_table(raw: pl.DataFrame, table: str, keep_positions: Sequence[str] = ()) -> Parsed:
    """Type the declared columns of one raw table and check them against its contract model.

    Parameters
    ----------
    raw
        All-text columns as read from the export, plus the ``_row`` column. Columns not in the
        contract must already be dropped; missing optional columns are added as nulls.
    table
        The contract table name.
    keep_positions
        Columns whose distinct values later steps work on: each is parsed once per distinct
        value (an identifier too), and the rows keep its :func:`position_column`, so that those
        steps need not find the distinct values again.

    Returns
    -------
    Parsed
        ``rows``: typed columns plus ``_row``, for rows that pass; ``failures``: for each rejected
        row its first failing column (in contract order), the raw value and the reason;
        ``distinct``: the distinct values of the ``keep_positions`` columns; ``duplicates``: how
        many rows were dropped because an earlier row has the same values.

    Rows are compared by their typed values, not their text: ``08:40 `` and ``08:40``, or
    ``2024-09-10`` and ``10/09/2024``, are one value, so a late arrival given twice counts once.
    A value that fails to parse is compared by its text. Duplicates are dropped before the
    contract's checks: a pupil listed twice alike is no second pupil with the same id.
    """
    declared = contract.columns(table)
    order = {name: i for i, name in enumerate(declared)}
    present = [name for name in declared if name in raw.columns]
    parsed = _typed(raw, {n: declared[n].dtype.type for n in present}, keep_positions)
    typed = raw.select(ROW).with_columns(parsed.columns)

    # A column whose typed form has no more nulls than its text cannot hold a value that
    # failed to parse: only the others are searched (clean exports skip the search).
    suspect = [n for n in present if typed[n].null_count() > raw[n].null_count()]

    first = first_of_duplicates(*_values_once_parsed(raw, typed, present, suspect))
    duplicates = int((~first).sum())
    if duplicates:
        raw, typed, parsed = raw.filter(first), typed.filter(first), parsed.filter(first)

    parse_failures = [
        raw.filter(typed[n].is_null() & _blank_to_null(n).is_not_null()).select(
            pl.col(ROW),
            pl.col(n).alias("value"),
            column=pl.lit(n),
            reason=_parse_reason(n, declared[n].dtype.type),
        )
        for n in suspect
    ]
    failures = [f.select(FAILURE_SCHEMA.keys()) for f in parse_failures if f.height]
    for column, check, failed_rows in _contract_failures(typed, parsed, table):
        failures.append(
            raw.select(pl.col(ROW), pl.col(column).alias("value"))
            .filter(failed_rows)
            .with_columns(column=pl.lit(column), reason=pl.lit(_check_reason(check, column)))
            .select(FAILURE_SCHEMA.keys())
        )

    failed = first_failure_per_row(pl.concat(failures) if failures else empty_failures(), order)
    kept = [name for name in keep_positions if name in parsed.positions]
    rows = typed.with_columns(parsed.positions[name] for name in kept).filter(
        ~pl.col(ROW).is_in(failed[ROW].implode())
    )
    distinct = {n: parsed.distinct[n] for n in kept}
    return Parsed(rows=rows, failures=failed, distinct=distinct, duplicates=duplicates)


def _values_once_parsed(
    raw: pl.DataFrame, typed: pl.DataFrame, present: list[str], suspect: list[str]
) -> tuple[pl.DataFrame, list[str]]:
    """The values rows are compared by to find duplicates, and their column names: the typed
    values, and for a value that failed to parse (null once typed) its text."""
    texts = raw.select(_blank_to_null(name).alias(f"_text_{name}") for name in suspect)
    values = pl.concat([typed.select(present), texts], how="horizontal").with_columns(
        pl.when(pl.col(name).is_null()).then(pl.col(f"_text_{name}")).alias(f"_text_{name}")
        for name in suspect
    )
    return values, values.columns


def _contract_failures(
    typed: pl.DataFrame, parsed: _Typed, table: str
) -> list[tuple[str, str, pl.Series]]:
    """Each failed check of the contract of ``table``: its column, its name, and which rows of
    ``typed`` fail it (a mask).

    The checks of a column are about one value at a time, so a few-valued column is checked
    once per distinct value and each row takes its value's outcome; a column whose values
    must be unique, and the identifiers, are checked row by row.
    """
    schema = contract.MODELS[table].to_schema()
    by_value = [
        name
        for name in parsed.distinct
        if name in typed.columns and not schema.columns[name].unique
    ]
    by_row = [name for name in schema.columns if name in typed.columns and name not in by_value]
    found = [
        (column, check, pl.repeat(False, typed.height, eager=True).scatter(failing, True))
        for column, check, failing in _failed_checks(schema.select_columns(by_row), typed)
    ]
    for name in by_value:
        values, positions = _with_null_value(parsed.distinct[name], parsed.positions[name])
        column_schema = schema.select_columns([name])
        for column, check, failing in _failed_checks(column_schema, values.to_frame()):
            found.append((column, check, positions.is_in(failing.implode())))
    return found


def _with_null_value(values: pl.Series, positions: pl.Series) -> tuple[pl.Series, pl.Series]:
    """``values`` and the rows' ``positions`` among them, with a null value for the rows that
    have none (an empty text), so that those rows are checked too."""
    if not positions.has_nulls():
        return values, positions
    return values.extend_constant(None, 1), positions.fill_null(values.len())


def _failed_checks(
    schema: pa.DataFrameSchema, frame: pl.DataFrame
) -> list[tuple[str, str, pl.Series]]:
    """Each check of ``schema`` that rows of ``frame`` fail: column, check and row indices."""
    try:
        schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        cases = errors.failure_cases.filter(pl.col("index").is_not_null())
        return [
            (str(column), str(check), group["index"].cast(pl.UInt32).unique())
            for (column, check), group in cases.group_by(["column", "check"], maintain_order=True)
        ]
    return []


def first_failure_per_row(
    failures: pl.DataFrame, order: dict[str, int] | None = None
) -> pl.DataFrame:
    """Keep one failure per row: the first column in contract order, so counts reconcile."""
    if failures.is_empty():
        return empty_failures()
    rank = pl.col("column").replace_strict(
        order or {}, default=len(order or {}), return_dtype=pl.Int32
    )
    return (
        failures.with_columns(_rank=rank)
        .sort([ROW, "_rank"], maintain_order=True)
        .unique(subset=[ROW], keep="first", maintain_order=True)
        .drop("_rank")
    )


def failures_where(
    frame: pl.DataFrame, condition: pl.Expr | pl.Series, column: str, reason: str
) -> pl.DataFrame:
    """Failure rows for every row of ``frame`` (typed, with ``_row``) where ``condition`` holds."""
    return frame.filter(condition).select(
        pl.col(ROW),
        pl.lit(column).alias("column"),
        pl.col(column).cast(pl.String).alias("value"),
        pl.lit(reason).alias("reason"),
    )
