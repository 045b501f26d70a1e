"""Absence codes: from each school's own code to one canonical category, through a profile.

A profile may also say how an export names its files and columns (:class:`ExportNames`) and
how it writes the values of some columns (``[values.<column>]``), where they differ from the
input contract's, so that a school system's own export needs no script.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType

import polars as pl

from features.canonical import contract

CATEGORIES = (
    "unexcused",
    "illness_parent_note",
    "illness_certified",
    "illness",
    "excused_other",
    "exclusion",
    "school_activity",
    "present",
    "late",
    "early_departure",
)
"""The canonical categories every profile maps into."""

ABSENT_CATEGORIES = (
    "unexcused",
    "illness_parent_note",
    "illness_certified",
    "illness",
    "excused_other",
    "exclusion",
    "early_departure",
)
"""Categories that count as (part of) a missed period; ``school_activity`` counts as present."""

ILLNESS_CATEGORIES = ("illness_parent_note", "illness_certified", "illness")

BUILTIN_PROFILES = ("flanders", "netherlands", "edfi")

CategoryDtype = pl.Enum(list(CATEGORIES))


class ProfileError(ValueError):
    """A code profile that cannot be used."""


VALUE_COLUMNS = (
    "period",
    "time",
    "outcome",
    "case_type",
    "gender",
    "school_day",
    "ses_low",
    "sen",
    "holiday",
)
"""Columns whose values a profile may map (``[values.<column>]``) before the contract's checks."""


ALL_TABLES = ""
"""The key of :attr:`ExportNames.columns` for the column names mapped in every table."""


def _folded(name: str) -> str:
    """A file or column name as it is compared: blanks around, a byte-order mark and letter
    case do not matter."""
    return name.strip().lstrip("\ufeff").strip().casefold()


@dataclass(frozen=True)
class ExportNames:
    """How an export names its files and columns where it does not name them as the contract
    does: ``Afwezigheden.csv`` for ``absences``, ``Leerlingnummer`` for ``student_id``."""

    files: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """The export's file name without its extension (folded) -> the contract's table."""
    columns: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    """Per table (:data:`ALL_TABLES` for every table): the export's column (folded) -> the
    contract's column."""

    def table(self, stem: str) -> str:
        """The contract's table a file named ``stem`` (its name without extension) holds: the
        mapped one, else ``stem`` itself (which then is a table's name, or no table)."""
        return self.files.get(_folded(stem), stem)

    def column(self, table: str, name: str) -> str:
        """The contract's name of ``table``'s column ``name`` as the export writes it: mapped
        for the table, else for every table, else the name without blanks around it."""
        folded = _folded(name)
        for scope in (table, ALL_TABLES):
            if folded in self.columns.get(scope, {}):
                return self.columns[scope][folded]
        return name.strip().lstrip("\ufeff")

    def merged(self, other: ExportNames) -> ExportNames:
        """These names, added to or replaced by ``other``'s."""
        scopes = {*self.columns, *other.columns}
        columns = {
            s: MappingProxyType({**self.columns.get(s, {}), **other.columns.get(s, {})})
            for s in scopes
        }
        return ExportNames(
            MappingProxyType({**self.files, **other.files}), MappingProxyType(columns)
        )


@dataclass(frozen=True)
class CodeProfile:
    """A mapping from a school's own absence codes to canonical categories, and of other
    values of its export to the contract's (``VM`` -> ``AM``, ``naar huis`` -> ``sent_home``)."""

    name: str
    codes: Mapping[str, str]
    values: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    """Per column of :data:`VALUE_COLUMNS`: the export's value -> the contract's."""
    names: ExportNames = field(default_factory=ExportNames)
    """The export's own file and column names (``[files]``, ``[columns]``)."""

    @classmethod
    def from_toml(cls, name: str, text: str) -> CodeProfile:
        """Parse a profile: a ``[codes]`` table (or top-level keys) of ``code = "category"``,
        optional ``[values.<column>]`` tables of ``"export value" = "contract value"``, optional
        ``[files]`` (``"export file name" = "table"``) and ``[columns]`` /
        ``[columns.<table>]`` (``"export column" = "contract column"``, in every table or in
        one), and an optional ``extends = "<built-in profile>"``, whose codes and values this
        profile's add to or replace."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ProfileError(f"code profile {name}: not valid TOML ({exc})") from exc
        base = _base(name, data.pop("extends", None))
        values = _values(name, data.pop("values", {}))
        names = _export_names(name, data.pop("files", {}), data.pop("columns", {}))
        table = data.get("codes", data)
        if not isinstance(table, dict) or not (table or base.codes):
            raise ProfileError(f"code profile {name}: no codes found (expected a [codes] table)")
        bad = {code: cat for code, cat in table.items() if cat not in CATEGORIES}
        if bad:
            first = next(iter(bad.items()))
            raise ProfileError(
                f"code profile {name}: code {first[0]!r} maps to unknown category {first[1]!r} "
                f"(categories: {', '.join(CATEGORIES)})"
            )
        codes = {**base.codes, **{normalise(c): v for c, v in table.items()}}
        merged = {
            c: {**base.values.get(c, {}), **values.get(c, {})} for c in {*base.values, *values}
        }
        return cls(
            name=name,
            codes=MappingProxyType(codes),
            values=MappingProxyType({c: MappingProxyType(m) for c, m in merged.items()}),
            names=base.names.merged(names),
        )


def _base(name: str, extends: object) -> CodeProfile:
    """The built-in profile a profile extends, or an empty one."""
    if extends is None:
        return CodeProfile(name="", codes=MappingProxyType({}))
    if extends not in BUILTIN_PROFILES:
        raise ProfileError(
            f"code profile {name}: extends {extends!r}, which is not a built-in profile "
            f"({', '.join(BUILTIN_PROFILES)})"
        )
    return builtin_profile(str(extends))


def _values(name: str, table: object) -> dict[str, dict[str, str]]:
    """The ``[values.<column>]`` tables of a profile, checked."""
    if not isinstance(table, dict):
        raise ProfileError(f"code profile {name}: values must be tables, [values.<column>]")
    out = {}
    for column, mapping in table.items():
        if column not in VALUE_COLUMNS:
            raise ProfileError(
                f"code profile {name}: [values.{column}]: not a column whose values can be "
                f"mapped ({', '.join(VALUE_COLUMNS)})"
            )
        if not isinstance(mapping, dict) or not all(
            isinstance(v, str | bool | int) for v in mapping.values()
        ):
            raise ProfileError(
                f"code profile {name}: [values.{column}] must map texts to texts, "
                '"export value" = "contract value"'
            )
        out[column] = {
            str(k).strip().upper(): str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in mapping.items()
        }
    return out


def _export_names(name: str, files: object, columns: object) -> ExportNames:
    """The ``[files]`` and ``[columns]`` tables of a profile, checked against the contract."""

    def texts(where: str, table: object) -> dict[str, str]:
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise ProfileError(
                f'code profile {name}: [{where}] must map texts to texts, "export name" = '
                '"contract name"'
            )
        return {_folded(k): v for k, v in table.items()}

    tables = texts("files", files)
    for export_name, table in tables.items():
        if table not in contract.MODELS:
            raise ProfileError(
                f"code profile {name}: [files] maps {export_name!r} to {table!r}, which is not "
                f"a table ({', '.join(contract.MODELS)})"
            )
    if not isinstance(columns, dict):
        raise ProfileError(f"code profile {name}: [columns] must be a table")
    everywhere = {k: v for k, v in columns.items() if not isinstance(v, dict)}
    scoped = {ALL_TABLES: texts("columns", everywhere)}
    for table, mapping in columns.items():
        if isinstance(mapping, dict):
            if table not in contract.MODELS:
                raise ProfileError(
                    f"code profile {name}: [columns.{table}]: not a table "
                    f"({', '.join(contract.MODELS)})"
                )
            scoped[table] = texts(f"columns.{table}", mapping)
    for table, mapping in scoped.items():
        known = (
            contract.columns(table)
            if table
            else {c for t in contract.MODELS for c in contract.columns(t)}
        )
        for export_name, column in mapping.items():
            if column not in known:
                where = f"columns.{table}" if table else "columns"
                raise ProfileError(
                    f"code profile {name}: [{where}] maps {export_name!r} to {column!r}, which "
                    "is not a column of the contract"
                )
    return ExportNames(
        MappingProxyType(tables),
        MappingProxyType({t: MappingProxyType(m) for t, m in scoped.items() if m}),
    )


def mapped_values(frame: pl.DataFrame, profile: CodeProfile) -> pl.DataFrame:
    """``frame`` (raw text) with each column's values mapped by the profile's
    ``[values.<column>]`` (blanks around and letter case do not matter); other values stay."""
    maps = {c: m for c, m in profile.values.items() if c in frame.columns and m}
    if not maps:
        return frame
    return frame.with_columns(
        pl.col(column)
        .str.strip_chars()
        .str.to_uppercase()
        .replace_strict(dict(mapping), default=pl.col(column), return_dtype=pl.String)
        .alias(column)
        for column, mapping in maps.items()
    )


def builtin_profile(name: str) -> CodeProfile:
    """One of the profiles shipped with schoolpoort (``flanders``, ``netherlands``, ``edfi``)."""
    if name not in BUILTIN_PROFILES:
        raise ProfileError(
            f"unknown code profile {name!r} (built in: {', '.join(BUILTIN_PROFILES)})"
        )
    text = (
        resources.files("features.canonical")
        .joinpath("profiles", f"{name}.toml")
        .read_text("utf-8")
    )
    return CodeProfile.from_toml(name, text)


def normalise(code: str) -> str:
    """Trim a code and keep what follows '#' in an Ed-Fi style descriptor URI (when anything
    does: a code such as ``#`` stays itself)."""
    code = code.strip()
    return code.rsplit("#", 1)[-1].strip() or code


def normalised_code(column: str = "code") -> pl.Expr:
    """Expression form of :func:`normalise`."""
    trimmed = pl.col(column).str.strip_chars()
    after = trimmed.str.split("#").list.last().str.strip_chars()
    return pl.when(after != "").then(after).otherwise(trimmed).alias(column)


def category(profile: CodeProfile, column: str = "code") -> pl.Expr:
    """The canonical category of each (normalised) code; null for a code the profile lacks.

    Codes are matched exactly first and then case-insensitively, because school software
    exports both ``Z`` and ``z``.
    """
    exact = pl.col(column).replace_strict(dict(profile.codes), default=None, return_dtype=pl.String)
    upper = {code.upper(): cat for code, cat in profile.codes.items()}
    folded = (
        pl.col(column)
        .str.to_uppercase()
        .replace_strict(upper, default=None, return_dtype=pl.String)
    )
    return pl.coalesce(exact, folded).cast(CategoryDtype).alias("category")


def unknown_codes(codes: pl.Series, profile: CodeProfile) -> pl.DataFrame:
    """Each code the profile does not know, with its count, most frequent first."""
    # Count first, map the few distinct codes after: a school uses a dozen codes, not millions.
    counts = pl.DataFrame({"code": codes}).group_by("code").agg(pl.len().alias("count"))
    return (
        counts.with_columns(category(profile))
        .filter(pl.col("category").is_null() & pl.col("code").is_not_null())
        .select("code", pl.col("count").cast(pl.UInt32))
        .sort(["count", "code"], descending=[True, False])
    )
