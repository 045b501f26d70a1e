"""Keyed pseudonyms for pupils: HMAC-SHA256 of the school's own id.

The same key gives the same pseudonym every week, so features and labels join across
exports; without the key a pseudonym cannot be traced back or recomputed from a guessed id.
"""

from __future__ import annotations

import hashlib
import hmac

import polars as pl

PSEUDONYM_CHARS = 20
"""Hex characters kept: 80 bits, so collisions are out of reach for any school board."""

KEY_BYTES = 32


def pseudonym(key: bytes, student_id: str) -> str:
    """The pseudonym of one pupil id."""
    return hmac.new(key, student_id.encode("utf-8"), hashlib.sha256).hexdigest()[:PSEUDONYM_CHARS]


def pseudonym_map(key: bytes, student_ids: pl.Series) -> pl.DataFrame:
    """``student_id -> student_key`` for each distinct id (HMAC is computed once per pupil)."""
    if len(key) < 16:
        raise ValueError("pseudonymisation key is too short (at least 16 bytes)")
    ids = student_ids.drop_nulls().unique().sort()
    keyed = hmac.new(key, digestmod=hashlib.sha256)  # copied per id: the key is hashed once

    def one(student_id: str) -> str:
        mac = keyed.copy()
        mac.update(student_id.encode("utf-8"))
        return mac.hexdigest()[:PSEUDONYM_CHARS]

    keys = [one(sid) for sid in ids.to_list()]
    return pl.DataFrame(
        {"student_id": ids, "student_key": pl.Series(keys, dtype=pl.String)},
        schema={"student_id": pl.String, "student_key": pl.String},
    )


def pseudonymise(frame: pl.LazyFrame, identities: pl.DataFrame) -> pl.LazyFrame:
    """Replace ``student_id`` by ``student_key`` (first column), using a map from :func:`pseudonym_map`.

    Any further columns of ``identities`` come along, as with a left join on ``student_id``
    (an id missing from the map gets nulls). Each id is looked up as a position in an enum of
    the map's ids, which is cheaper than joining millions of rows on text.
    """
    position = (
        pl.col("student_id").cast(pl.Enum(identities["student_id"]), strict=False).to_physical()
    )
    looked_up = [
        pl.lit(identities[name]).gather(position).alias(name)
        for name in identities.columns
        if name != "student_id"
    ]
    out = frame.with_columns(looked_up).drop("student_id")
    cols = out.collect_schema().names()
    return out.select(["student_key", *[c for c in cols if c != "student_key"]])


PER_SCHOOL_SEPARATOR = "\x1f"
"""Joins a school's id and its pupil number into one pupil id when pupils are keyed per school
(``--ids per-school``). A control character: no id may hold one (the contract quarantines
it), so the joined id cannot collide with another and splits back unambiguously."""


def per_school_id(school: str = "school_id", student: str = "student_id") -> pl.Expr:
    """The pupil id keyed on ``(school, student)``: ``school + separator + student``."""
    return pl.concat_str(pl.col(school), pl.lit(PER_SCHOOL_SEPARATOR), pl.col(student))


def shown_id(column: str = "student_id") -> pl.Expr:
    """The pupil number as the school wrote it: a per-school id without its school (an id
    keyed on the board alone is itself)."""
    return pl.col(column).str.split(PER_SCHOOL_SEPARATOR).list.last()


def id_school(column: str = "student_id") -> pl.Expr:
    """The school of a per-school id; null for an id keyed on the board alone."""
    parts = pl.col(column).str.split(PER_SCHOOL_SEPARATOR)
    return pl.when(parts.list.len() > 1).then(parts.list.first())
