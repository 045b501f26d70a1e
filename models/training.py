"""The training table, read lazily and sampled as it is read.

Fitting a rung needs every future case but not every pupil-week without one: on a board of
100,000 pupils over three school years there are some eleven million pupil-weeks and a few
thousand positive ones. So the rows a rung is *fitted* on are

- every positive row (``label`` 1; known and ambiguous cases are not usable rows at all:
  :func:`models.labels.usable_for_training`), weight 1;
- in each school-week (``school_id, as_of``), the ``ceil(fraction x n)`` of its ``n``
  negative rows whose seeded hash of ``(student_key, as_of)`` is smallest, each weighted
  ``n / kept``: the weighted count of negatives is the true count, school-week by school-week,
  so a weighted fit sees the board's base rate (and the calibration that follows starts from
  it).

The sample does not depend on the split or on the order rows are read in: a row is in or out
by its own hash, so the fit slices of successive forward splits are nested samples.

Calibration and test slices are never sampled: a calibration slice's base rate, and the top
share of each school's pupils that the precision counts, need every pupil of the week.

Only the columns the rungs use are read (the keys, ``label``, ``label_date`` and the
features), with compact types: features as ``Float32`` (the counts and rates are far inside its
7 significant digits), ``label`` as ``Int8``, and the keys as categoricals on request.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import polars as pl

from models.splits import Split

KEYS = ("student_key", "as_of", "school_id")
LABELS = ("label", "label_date")
WEIGHT = "weight"
"""The sample weight column of the fit rows."""
STRATUM = ("school_id", "as_of")
"""Negatives are sampled within each school-week."""

Scan = Callable[[Sequence[dt.date]], pl.LazyFrame]
"""The usable, labelled rows of some as-of dates (``KEYS``, ``LABELS`` and the features)."""


def sample_fit_rows(rows: pl.LazyFrame, fraction: float, seed: int) -> pl.LazyFrame:
    """Every positive row and a seeded share of each school-week's negatives, with ``weight``.

    Parameters
    ----------
    rows : LazyFrame
        Usable rows with at least ``student_key, as_of, school_id, label``.
    fraction : float
        Share of each school-week's negatives kept (at least one of them when it has any);
        1 keeps every row, each with weight 1.
    seed : int
        Seeds the hash that orders the negatives: the same seed keeps the same rows.

    Returns
    -------
    LazyFrame
        The kept rows with ``weight`` (Float64): 1 for a positive, ``n / kept`` for a negative,
        so that the weights of a school-week's kept negatives add up to its ``n`` negatives.
    """
    negative = pl.col("label") == 0
    order = pl.struct("student_key", "as_of").hash(seed)
    negatives = negative.sum().over(STRATUM)
    kept = (negatives * fraction).ceil().clip(lower_bound=1).cast(pl.Int64)
    # The rank among the school-week's negatives (positives rank among themselves, unused).
    rank = order.rank("ordinal").over([*STRATUM, "label"])
    return (
        rows.with_columns(_kept=kept, _negatives=negatives, _rank=rank)
        .filter(~negative | (pl.col("_rank") <= pl.col("_kept")))
        .with_columns(
            pl.when(negative)
            .then(pl.col("_negatives") / pl.min_horizontal("_kept", "_negatives"))
            .otherwise(1.0)
            .cast(pl.Float64)
            .alias(WEIGHT)
        )
        .drop("_kept", "_negatives", "_rank")
    )


def kept_fraction(rows: int, positives: int, fraction: float, per_positive: float | None) -> float:
    """The share of each school-week's negatives kept for fitting: ``fraction``, or less, so
    that about ``per_positive`` negatives are kept for each of the ``positives`` among
    ``rows`` (the fit rows then grow with the cases, not with the pupil-weeks).

    Without ``per_positive``, or without a positive or a negative, ``fraction`` itself.
    """
    negatives = rows - positives
    if per_positive is None or positives <= 0 or negatives <= 0:
        return fraction
    return min(fraction, per_positive * positives / negatives)


def compact(
    frame: pl.LazyFrame,
    features: Sequence[str],
    categorical_keys: bool,
    extra: Sequence[str] = (),
) -> pl.LazyFrame:
    """Only the keys, labels (and ``weight`` when there), ``extra`` and ``features``, in
    compact types."""
    weight = [WEIGHT] if WEIGHT in frame.collect_schema().names() else []
    keys = [pl.col(k).cast(pl.Categorical) for k in ("student_key", "school_id")]
    return frame.select(
        *KEYS,
        pl.col("label").cast(pl.Int8),
        "label_date",
        *weight,
        *extra,
        *(pl.col(f).cast(pl.Float32) for f in features),
    ).with_columns(keys if categorical_keys else [])


@dataclass
class TrainingTable:
    """The usable rows of a board, read per as-of date: sampled for fitting, whole otherwise.

    Nothing but the sampled fit rows is held between calls; a calibration or test slice is
    read when asked for. Rows come sorted by ``as_of, school_id, student_key``.

    Parameters
    ----------
    scan : callable
        ``scan(dates)``: the usable labelled rows of those as-of dates, lazily (read from
        wherever the caller keeps them; this module reads no file).
    dates : list of date
        The as-of dates with usable rows, increasing.
    features : list of str
        The feature columns the rungs use (read and cast to ``Float32``).
    fraction, seed
        The negative sample (:func:`sample_fit_rows`).
    categorical_keys : bool
        ``student_key`` and ``school_id`` as ``Categorical`` (a scored slice is kept per rung
        and split: a categorical key is 4 bytes a row, a string key 20 and more).
    extra : tuple of str
        More columns read beside the keys and labels, as they are (``outcome``, say).
    """

    scan: Scan
    dates: list[dt.date]
    features: list[str]
    fraction: float = 0.25
    seed: int = 0
    categorical_keys: bool = True
    extra: tuple[str, ...] = ()
    _pool: pl.DataFrame | None = field(default=None, repr=False)
    _counts: pl.DataFrame | None = field(default=None, repr=False)

    @classmethod
    def over(
        cls,
        scan: Scan,
        dates: Sequence[dt.date],
        features: list[str],
        fraction: float = 0.25,
        seed: int = 0,
        extra: tuple[str, ...] = (),
        per_positive: float | None = None,
    ) -> TrainingTable:
        """The table of ``scan`` over those of ``dates`` that hold usable rows (counted once,
        reading only the labels); its negatives sampled with ``fraction``, or with less when
        that keeps more than ``per_positive`` of them per positive (:func:`kept_fraction`)."""
        counts = row_counts(scan, sorted(dates)).filter(pl.col("rows") > 0)
        rows, positives = int(counts["rows"].sum()), int(counts["positives"].sum())
        return cls(
            scan=scan,
            dates=counts["as_of"].to_list(),
            features=features,
            fraction=kept_fraction(rows, positives, fraction, per_positive),
            seed=seed,
            extra=extra,
            _counts=counts,
        )

    @classmethod
    def in_memory(
        cls, data: pl.DataFrame, features: list[str], fraction: float = 0.25, seed: int = 0
    ) -> TrainingTable:
        """A table over rows already in memory (tests, small boards), string keys kept."""
        lazy = data.lazy()
        dates = sorted(data["as_of"].unique().to_list())
        return cls(
            scan=lambda ds: lazy.filter(pl.col("as_of").is_in(list(ds))),
            dates=dates,
            features=features,
            fraction=fraction,
            seed=seed,
            categorical_keys=False,
        )

    def _read(self, dates: Sequence[dt.date], sample: bool) -> pl.DataFrame:
        """Rows of ``dates``, one as-of date at a time (a school-week never spans two).

        Each date is collected before the next is read: a lazy concatenation of every date
        would let the engine read them all at once, before any is sampled.
        """
        parts = []
        for date in dates:
            rows = self.scan([date])
            if sample:
                rows = sample_fit_rows(rows, self.fraction, self.seed)
            rows = rows.sort("school_id", "student_key")
            parts.append(compact(rows, self.features, self.categorical_keys, self.extra).collect())
        if not parts:
            return self._empty(sample)
        return pl.concat(parts, how="vertical", rechunk=False)  # no second copy of the pool

    def _empty(self, sample: bool) -> pl.DataFrame:
        probe = compact(
            sample_fit_rows(self.scan(self.dates[:1]), self.fraction, self.seed)
            if sample
            else self.scan(self.dates[:1]),
            self.features,
            self.categorical_keys,
            self.extra,
        )
        return probe.clear().collect()

    def _between(self, start: dt.date | None, end: dt.date) -> list[dt.date]:
        lo = 0 if start is None else bisect.bisect_left(self.dates, start)
        return self.dates[lo : bisect.bisect_left(self.dates, end)]

    @property
    def pool(self) -> pl.DataFrame:
        """The sampled fit rows of every date, read once (sorted by ``as_of``)."""
        if self._pool is None:
            self._pool = self._read(self.dates, sample=True)
        return self._pool

    @property
    def counts(self) -> pl.DataFrame:
        """Per as-of date, its usable ``rows`` and ``positives`` (every row, not the sample)."""
        if self._counts is None:
            self._counts = row_counts(self.scan, self.dates)
        return self._counts

    @property
    def rows(self) -> int:
        """Usable rows, every as-of date."""
        return int(self.counts["rows"].sum())

    @property
    def positives(self) -> int:
        """Usable rows followed by a case within the horizon."""
        return int(self.counts["positives"].sum())

    def rows_before(self, end: dt.date) -> int:
        """How many usable rows have an as-of date before ``end``."""
        return int(self.counts.filter(pl.col("as_of") < end)["rows"].sum())

    def fit(self, split: Split) -> pl.DataFrame:
        """The sampled rows before ``split.fit_end``, with ``weight`` (a slice of the pool:
        no copy)."""
        end = self.pool["as_of"].search_sorted(split.fit_end, side="left")
        return self.pool.slice(0, int(end))

    def part(self, split: Split, which: str) -> pl.DataFrame:
        """Every row of the ``calibration`` or ``test`` slice of ``split``."""
        if which == "calibration":
            return self._read(self._between(split.calibration_start, split.calibration_end), False)
        if which == "test":
            return self._read(self._between(split.test_start, split.test_end), False)
        raise ValueError(f"only calibration and test slices are read whole, not {which!r}")

    def release(self) -> None:
        """Forget the sampled fit rows (read again when next asked for)."""
        self._pool = None


def row_counts(scan: Scan, dates: Sequence[dt.date]) -> pl.DataFrame:
    """``as_of, rows, positives`` of the usable rows of ``dates`` (only the labels are read)."""
    if not dates:
        return pl.DataFrame(schema={"as_of": pl.Date, "rows": pl.UInt32, "positives": pl.Int64})
    return (
        scan(dates)
        .group_by("as_of")
        .agg(pl.len().alias("rows"), pl.col("label").cast(pl.Int64).sum().alias("positives"))
        .sort("as_of")
        .collect()
    )
