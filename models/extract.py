"""A de-identified research extract: features, labels and split, under nobody's id.

- Pupils and schools get fresh random ids, drawn anew from the operating system's entropy on
  every call: the ids say nothing about the workspace's pseudonyms, the school's own ids or
  another extract's ids. The extract is *pseudonymised, not anonymous*: whoever holds the
  raw data can recompute the features and so link rows back to pupils (or two extracts to
  each other). Share it under a data-sharing agreement.
- Only catalog features, the label, the as-of week and the split are kept: no class, no
  case type, no label date (``weeks_to_label``, in whole weeks, keeps what lead-time
  research needs without giving the day a case began).
- Group attributes (gender, low SES, SEN) are kept only where their combination within a
  school holds at least ``min_cell`` pupils; elsewhere they are blanked (small cells).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import polars as pl

ATTRIBUTES = ("gender", "ses_low", "sen")


def _fresh_ids(values: pl.Series, prefix: str, rng: np.random.Generator) -> pl.DataFrame:
    """A random one-to-one map from ``values`` to ``prefix`` + a number (random order)."""
    distinct = values.unique().sort()  # in a fixed order: a seeded rng gives the same ids
    numbers = rng.permutation(len(distinct)) + 1
    width = len(str(len(distinct)))
    return pl.DataFrame(
        {
            values.name: distinct,
            f"new_{values.name}": [f"{prefix}{n:0{width}d}" for n in numbers],
        }
    )


CHUNK_PUPILS = 5_000
"""Pupils whose rows :func:`research_extract_chunks` puts together at a time: the extract of
a large board is never whole in memory."""


def research_extract(
    frame: pl.DataFrame,
    features: list[str],
    min_cell: int = 10,
    rng: np.random.Generator | None = None,
) -> pl.DataFrame:
    """The extract of ``frame`` (pupil-weeks with ``student_key, school_id, as_of, split,
    label, label_date``, the ``features`` and the :data:`ATTRIBUTES`).

    Columns: ``pupil, school, as_of, split, label, weeks_to_label``, the attributes (blanked
    in small cells), then the features. ``rng`` defaults to a fresh, unseeded generator.
    """
    chunks = list(research_extract_chunks(frame.lazy(), features, min_cell, rng))
    if not chunks:  # no rows: the columns all the same
        chunks = [next(research_extract_chunks(frame.lazy(), features, min_cell, rng, empty=True))]
    return pl.concat(chunks)


def research_extract_chunks(
    frame: pl.LazyFrame,
    features: list[str],
    min_cell: int = 10,
    rng: np.random.Generator | None = None,
    pupils_per_chunk: int = CHUNK_PUPILS,
    empty: bool = False,
) -> Iterator[pl.DataFrame]:
    """The extract of the lazy ``frame`` (as :func:`research_extract`), in its order, a few
    pupils at a time: written one after the other, the chunks are the whole extract.

    Only the keys and attributes of every row are read at once (for the new ids and the cell
    sizes); each chunk then reads the rows of its pupils. With ``empty``, one chunk without
    rows (the extract's columns).
    """
    rng = rng or np.random.default_rng()
    combination = ["school_id", *ATTRIBUTES]
    keys = frame.select("student_key", *combination).unique().collect()
    pupils = _fresh_ids(keys["student_key"], "P", rng)
    schools = _fresh_ids(keys["school_id"], "S", rng)
    cells = keys.group_by(combination).agg(pl.col("student_key").n_unique().alias("_cell"))
    members = (
        keys.select("student_key", "school_id")
        .unique()
        .join(pupils, on="student_key")
        .join(schools, on="school_id")
        .sort("new_school_id", "new_student_key")
        .select("student_key", "school_id")
    )
    if empty:
        members = members.clear()
    for start in range(0, max(members.height, 1 if empty else 0), pupils_per_chunk):
        chunk = members.slice(start, pupils_per_chunk)
        # The filter reaches the reading of the rows (a join does not): only the chunk's
        # pupils are read, not every row of the board for each chunk.
        pupils_in_chunk = pl.col("student_key").is_in(chunk["student_key"].unique().implode())
        rows = frame.filter(pupils_in_chunk).join(
            chunk.lazy(), on=["student_key", "school_id"], how="semi"
        )
        small = pl.col("_cell") < min_cell
        out = (
            rows.join(cells.lazy(), on=combination, how="left", nulls_equal=True)
            .join(pupils.lazy(), on="student_key")
            .join(schools.lazy(), on="school_id")
            .with_columns(
                [pl.when(small).then(None).otherwise(pl.col(a)).alias(a) for a in ATTRIBUTES]
            )
            .select(
                pl.col("new_student_key").alias("pupil"),
                pl.col("new_school_id").alias("school"),
                "as_of",
                "split",
                "label",
                ((pl.col("label_date") - pl.col("as_of")).dt.total_days() / 7.0)
                .ceil()
                .cast(pl.Int8)
                .alias("weeks_to_label"),
                *ATTRIBUTES,
                *features,
            )
        )
        # Row order must not carry the workspace's pseudonym order: sort by the new ids.
        yield out.sort("school", "pupil", "as_of").collect()
