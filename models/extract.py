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

import numpy as np
import polars as pl

ATTRIBUTES = ("gender", "ses_low", "sen")


def _fresh_ids(values: pl.Series, prefix: str, rng: np.random.Generator) -> pl.DataFrame:
    """A random one-to-one map from ``values`` to ``prefix`` + a number (random order)."""
    distinct = values.unique()
    numbers = rng.permutation(len(distinct)) + 1
    width = len(str(len(distinct)))
    return pl.DataFrame(
        {
            values.name: distinct,
            f"new_{values.name}": [f"{prefix}{n:0{width}d}" for n in numbers],
        }
    )


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
    rng = rng or np.random.default_rng()
    pupils = _fresh_ids(frame["student_key"], "P", rng)
    schools = _fresh_ids(frame["school_id"], "S", rng)
    combination = ["school_id", *ATTRIBUTES]
    cells = frame.group_by(combination).agg(pl.col("student_key").n_unique().alias("_cell"))
    small = pl.col("_cell") < min_cell
    out = (
        frame.join(cells, on=combination, how="left", nulls_equal=True)
        .join(pupils, on="student_key")
        .join(schools, on="school_id")
        .with_columns([pl.when(small).then(None).otherwise(pl.col(a)).alias(a) for a in ATTRIBUTES])
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
    return out.sort("school", "pupil", "as_of")
