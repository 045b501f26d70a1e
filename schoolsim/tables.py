"""Contract tables (and the hidden truth) from the simulator's arrays.

Each year contributes a `YearRecord` of plain arrays keyed by pupil number (``pid``) and
day (days since 1970-01-01). At the end they become polars frames with the column names
and types of the input contract (``features/contract.py``), sorted by their keys so that
the same settings always give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from schoolsim.board import GENDERS, Registry
from schoolsim.cases import CASE_TYPES
from schoolsim.codes import CODE_LABELS
from schoolsim.events import OUTCOMES
from schoolsim.trajectories import TRAJECTORIES

Array = npt.NDArray[Any]

NO_DATE = np.iinfo(np.int32).min
"""Sentinel of a blank date in a record's day column."""

TABLE_NAMES = (
    "enrolments",
    "absences",
    "late_arrivals",
    "sick_bay_visits",
    "students",
    "care_cases",
)
"""The contract tables a simulation exports, in a stable order."""


@dataclass
class YearRecord:
    """Everything one school year adds to the tables, as column name -> array."""

    enrolments: dict[str, Array]
    absences: dict[str, Array]
    late_arrivals: dict[str, Array]
    sick_bay_visits: dict[str, Array]
    care_cases: dict[str, Array]
    truth: dict[str, Array]


def build_tables(
    records: list[YearRecord], registry: Registry
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Turn the yearly records into the contract tables and the truth table.

    Parameters
    ----------
    records : list of YearRecord
    registry : Registry
        Ids and attributes of every pupil.

    Returns
    -------
    tuple
        The tables by name (`TABLE_NAMES`) and the truth per pupil-year.
    """
    ids = _student_ids(registry)

    def stack(name: str) -> pl.DataFrame:
        cols = list(getattr(records[0], name))
        frame = pl.DataFrame(
            {c: np.concatenate([getattr(r, name)[c] for r in records]) for c in cols}
        )
        # Sorting on the numeric id gives the same order as on the zero-padded string.
        return frame.with_columns(
            pl.Series("id_num", registry["id_num"]).gather(frame["pid"]).alias("_id")
        )

    enrol = stack("enrolments").sort(["_id", "start"])
    absences = stack("absences").sort(["_id", "epoch", "pm"])
    late = stack("late_arrivals").sort(["_id", "epoch"])
    sickbay = stack("sick_bay_visits").sort(["_id", "epoch", "time"])
    cases = stack("care_cases").sort(["_id", "opened", "type"])
    truth = stack("truth").sort(["_id", "school_year"])

    tables = {
        "enrolments": enrol.select(
            _sid(ids),
            pl.format("SCH{}", (pl.col("school") + 1).cast(pl.String).str.zfill(2)).alias(
                "school_id"
            ),
            pl.col("grade").cast(pl.Int8),
            _date("start", "start_date"),
            pl.concat_str(
                pl.col("grade").cast(pl.String), _labels("class_no", _class_letters(enrol))
            ).alias("class_id"),
            _date("end", "end_date", nullable=True),
        ),
        "absences": absences.select(
            _sid(ids),
            _date("epoch", "date"),
            pl.when(pl.col("pm")).then(pl.lit("PM")).otherwise(pl.lit("AM")).alias("period"),
            _labels("code", CODE_LABELS).alias("code"),
            pl.when(pl.col("minutes") >= 0).then(pl.col("minutes")).cast(pl.Int32).alias("minutes"),
        ),
        "late_arrivals": late.select(
            _sid(ids),
            _date("epoch", "date"),
            _clock("time").alias("time"),
            pl.col("minutes").cast(pl.Int32).alias("minutes_late"),
        ),
        "sick_bay_visits": sickbay.select(
            _sid(ids),
            _date("epoch", "date"),
            _clock("time").alias("time"),
            pl.col("minutes").cast(pl.Int32),
            _labels("outcome", OUTCOMES).alias("outcome"),
        ),
        "students": _students(registry, ids),
        "care_cases": cases.select(
            _sid(ids),
            _date("opened", "opened_on"),
            _labels("type", CASE_TYPES).alias("case_type"),
            pl.when(pl.col("onset_known")).then(_date("onset", "onset_on")).alias("onset_on"),
        ),
    }
    return tables, _truth(truth, ids)


def _truth(truth: pl.DataFrame, ids: pl.Series) -> pl.DataFrame:
    refusal = pl.col("kind") == TRAJECTORIES.index("refusal")
    return truth.select(
        _sid(ids),
        pl.col("school_year").cast(pl.Int16),
        _labels("kind", TRAJECTORIES).alias("trajectory"),
        _date("onset", "onset", nullable=True),
        pl.when(refusal).then(pl.col("sudden")).alias("sudden"),
        _date("prodrome", "prodrome_start", nullable=True),
        _date("recovered", "recovered_on", nullable=True),
        pl.col("carried").alias("carried_over"),
        pl.when(refusal).then(pl.col("after_illness")).alias("after_illness"),
        pl.when(refusal).then(pl.col("low_cooperation")).alias("low_cooperation"),
        pl.col("bad_stretch"),
        pl.format("SCH{}", (pl.col("school") + 1).cast(pl.String).str.zfill(2)).alias("school_id"),
        pl.col("grade").cast(pl.Int8),
    )


def _students(registry: Registry, ids: pl.Series) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "student_id": ids,
            "gender": pl.Series(GENDERS).gather(registry["gender"]),
            "ses_low": registry["ses_low"],
            "sen": registry["sen"],
            "_id": registry["id_num"],
        }
    )
    return frame.sort("_id").drop("_id")


def _student_ids(registry: Registry) -> pl.Series:
    """The school's own pupil ids, "L" and 7 digits, indexed by pid."""
    num = pl.Series("n", registry["id_num"]).cast(pl.String).str.zfill(7)
    return ("L" + num).alias("student_id")


def _sid(ids: pl.Series) -> pl.Expr:
    return (
        pl.col("pid")
        .map_batches(lambda pid: ids.gather(pid), return_dtype=pl.String)
        .alias("student_id")
    )


def _date(column: str, name: str, nullable: bool = False) -> pl.Expr:
    value = pl.col(column).cast(pl.Int32).cast(pl.Date)
    if nullable:
        value = pl.when(pl.col(column) != NO_DATE).then(value)
    return value.alias(name)


def _labels(column: str, labels: tuple[str, ...] | list[str]) -> pl.Expr:
    table = pl.Series(list(labels), dtype=pl.String)
    return pl.col(column).map_batches(lambda idx: table.gather(idx), return_dtype=pl.String)


def _clock(column: str) -> pl.Expr:
    hours = (pl.col(column) // 60).cast(pl.String).str.zfill(2)
    mins = (pl.col(column) % 60).cast(pl.String).str.zfill(2)
    return pl.format("{}:{}", hours, mins)


def _class_letters(enrol: pl.DataFrame) -> list[str]:
    """Class letters A, B, ..., Z, AA, AB, ... for every class number used."""
    top = int(enrol["class_no"].to_numpy().max(initial=0)) + 1
    labels = []
    for k in range(top):  # one label per class number (a few dozen), not per pupil
        label, k1 = "", k + 1
        while k1:
            k1, rest = divmod(k1 - 1, 26)
            label = chr(ord("A") + rest) + label
        labels.append(label)
    return labels
