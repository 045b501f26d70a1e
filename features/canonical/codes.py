"""Absence codes: from each school's own code to one canonical category, through a profile."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType

import polars as pl

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


@dataclass(frozen=True)
class CodeProfile:
    """A mapping from a school's own absence codes to canonical categories, and of other
    values of its export to the contract's (``VM`` -> ``AM``, ``naar huis`` -> ``sent_home``)."""

    name: str
    codes: Mapping[str, str]
    values: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    """Per column of :data:`VALUE_COLUMNS`: the export's value -> the contract's."""

    @classmethod
    def from_toml(cls, name: str, text: str) -> CodeProfile:
        """Parse a profile: a ``[codes]`` table (or top-level keys) of ``code = "category"``,
        optional ``[values.<column>]`` tables of ``"export value" = "contract value"``, and an
        optional ``extends = "<built-in profile>"``, whose codes and values this profile's
        add to or replace."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ProfileError(f"code profile {name}: not valid TOML ({exc})") from exc
        base = _base(name, data.pop("extends", None))
        values = _values(name, data.pop("values", {}))
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
