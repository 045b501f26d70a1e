"""``schoolpoort evaluate``: which signals predict, how early, for whom, and at what cost.

Uses the training rows and forward splits of ``train`` (same settings, same ``--until``),
refits the rules and the chosen learned model on each feature set (ablations, families),
and writes under ``WS/evaluation/until=<date>/``:

- ``report.md`` and ``report.html`` (figures in ``figures/``, embedded in the HTML);
- ``tables/*.parquet``: every table of the report, for the notebooks;
- ``research_extract.parquet``: the de-identified extract (fresh random ids each run).

The report, figures and tables (aggregates only) are logged to MLflow as one run; the
extract is not.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path

import numpy as np
import polars as pl

from features.catalog import BY_NAME
from features.catalog import names as feature_names
from models import carelist, ladder
from models import evaluation as ev
from models.explain import explain
from models.extract import ATTRIBUTES, research_extract_chunks
from models.fairness import FAIRNESS_BAND, fairness
from models.labels import cases_known_before, later_refusals
from models.profile import profile, profile_outcomes
from models.ranking import random_tie_flags
from models.splits import Split
from models.training import TrainingTable
from pipelines import tracking
from pipelines.render import plots
from pipelines.render.document import Document
from pipelines.settings import EvaluateSettings, Settings
from pipelines.steps.features import load_prepared
from pipelines.steps.train import default_until, forward_splits, training_table
from pipelines.workspace import Workspace, locked, staged, write_atomic, write_parquet

Say = Callable[[str], None]
ATTRIBUTE_NAMES = {"gender": "gender", "ses_low": "low SES", "sen": "special educational needs"}


@dataclass(frozen=True)
class Evaluation:
    """What an evaluation run wrote (aggregates and paths only)."""

    until: dt.date
    splits: list[Split]
    tables: dict[str, pl.DataFrame]
    folder: Path
    report: Path
    extract: Path
    run_id: str


_TEXT_KEYS = pl.col("student_key", "school_id").cast(pl.String)
"""The training table holds its keys as categoricals (compact); the analyses join on text."""


@dataclass(frozen=True)
class _Rows:
    table: TrainingTable  # every usable pupil-week, read lazily (sampled to fit)
    splits: list[Split]
    until: dt.date
    students: pl.DataFrame  # ``student_key`` and the group attributes
    cases: pl.LazyFrame  # the care cases known before ``until``
    tests: pl.DataFrame = field(default_factory=pl.DataFrame)
    """The test rows of every split, with ``split``, attributes and outcomes: read once the
    models are fitted (:func:`_with_tests`), never held beside a fit."""
    test_rows: int = 0
    test_positives: int = 0


def _rows(workspace: Workspace, settings: Settings, say: Say) -> _Rows:
    """Training rows and splits as ``train`` makes them, and the pupils' group attributes.
    The rows are read lazily: nothing is held whole until the test rows are read."""
    prepared = load_prepared(workspace)
    until = settings.train.until or default_until(prepared)
    table = training_table(workspace, prepared, until, settings.train, say, extra=("outcome",))
    del prepared  # the pupil-days are not needed past the feature tables: free them
    splits = forward_splits(table.dates, until, settings.train)
    students = pl.read_parquet(workspace.canonical_table("students")).select(
        "student_key", *ATTRIBUTES
    )
    cases = cases_known_before(pl.scan_parquet(workspace.canonical_table("care_cases")), until)
    return _Rows(table, splits, until, students, cases)


def _with_tests(rows: _Rows, settings: Settings) -> _Rows:
    """``rows`` with the test rows of every split, their group attributes and outcomes.

    Split by split (their test weeks do not overlap): the joins copy one split's rows at a
    time, not every test row at once.
    """
    horizon = settings.train.horizon_weeks
    # In one chunk: for an eager expression on a frame of many chunks, polars (2.1) copies
    # the whole frame first, every time (a select of one column of the test rows of 100,000
    # pupils: 0.67 GiB), and the analyses run hundreds on these rows.
    tests = pl.concat([_test_part(rows, split, horizon) for split in rows.splits], rechunk=True)
    return replace(
        rows, tests=tests, test_rows=tests.height, test_positives=int(tests["label"].sum())
    )


def _test_part(rows: _Rows, split: Split, horizon_weeks: int) -> pl.DataFrame:
    """The test rows of ``split`` with ``split``, the group attributes and ``later_refusal``."""
    part = (
        rows.table.part(split, "test")
        .with_columns(split=pl.lit(split.name))
        .with_columns(_TEXT_KEYS)
    )
    later = later_refusals(
        part.select("student_key", "as_of").lazy(), rows.cases, horizon_weeks
    ).collect()
    return part.join(rows.students, on="student_key", how="left", maintain_order="left").join(
        later, on=["student_key", "as_of"], how="left", maintain_order="left"
    )


def _test_rows(rows: _Rows) -> int:
    """How many test pupil-weeks the splits hold (counted, not read)."""
    return sum(
        rows.table.rows_before(s.test_end) - rows.table.rows_before(s.test_start)
        for s in rows.splits
    )


_SCORED_KEYS = ("split", "student_key", "as_of", "school_id", "label", "label_date")
"""What a scored test row holds besides its ``score`` and ``risk`` (as the ladder keeps it)."""


@dataclass
class _Scored:
    """The refits' scored test rows, compact: each split's keys and labels once, each
    model's ``score`` and ``risk`` per split aside in ``folder`` (one float64 file each).

    Every refit scores the same test slices in the same order, so a model's pooled rows are
    the shared keys with its own two columns beside them: what a model holds is 16 bytes a
    test row on disk, not a scored copy of every test slice per model in memory.
    """

    folder: Path
    keys: dict[str, pl.DataFrame] = field(default_factory=dict)  # by split
    splits: dict[str, list[str]] = field(default_factory=dict)  # by model, as scored
    _aliases: dict[str, str] = field(default_factory=dict)  # a set fitted under another name
    _text: dict[str, pl.DataFrame] = field(default_factory=dict)  # keys as text, by split

    def add(self, name: str) -> None:
        """Make room for the model ``name``'s scored rows."""
        self.splits[name] = []

    def keeper(self, name: str) -> Callable[[ladder.RungResult, pl.DataFrame], None]:
        """:func:`models.ladder.evaluate`'s ``keep_scored`` for the one model ``name``."""
        self.add(name)
        return lambda _result, scored: self.keep(name, scored)

    def keep(self, name: str, scored: pl.DataFrame) -> None:
        """Hold one split's scored rows of ``name``."""
        split = str(scored["split"][0]) if scored.height else ""
        keys = scored.select(_SCORED_KEYS)
        held = self.keys.setdefault(split, keys)
        if held is not keys and not held.equals(keys):
            raise ValueError(f"{name}: the test rows of {split} differ from another model's")
        index = len(self.splits[name])
        for column in ("score", "risk"):
            np.save(self._path(name, index, column), scored[column].to_numpy())
        self.splits[name].append(split)

    def alias(self, name: str, same_as: str) -> None:
        """``name`` is the model ``same_as`` (the same features, fitted once)."""
        self.splits[name] = self.splits[same_as]
        self._aliases[name] = same_as

    def _path(self, name: str, index: int, column: str) -> Path:
        model = list(self.splits).index(self._aliases.get(name, name))
        return self.folder / f"{model}-{index}-{column}.npy"

    def _keys(self, split: str) -> pl.DataFrame:
        """A split's keys as text (as the lists hold them), cast once for every model."""
        if split not in self._text:
            self._text[split] = self.keys[split].with_columns(_TEXT_KEYS)
        return self._text[split]

    def pooled(self, name: str, only: set[str] | None = None, risk: bool = True) -> pl.DataFrame:
        """Model ``name``'s scored rows of every split it was scored on (of ``only``, given),
        split after split; with ``risk``, its calibrated risk beside its score."""
        parts = []
        for index, split in enumerate(self.splits[name]):
            if only is not None and split not in only:
                continue
            columns = ["score", "risk"] if risk else ["score"]
            values = [pl.Series(c, np.load(self._path(name, index, c))) for c in columns]
            parts.append(self._keys(split).hstack(values))
        if not parts:
            return pl.DataFrame()
        return pl.concat(parts, rechunk=False)


def _common(
    scored: _Scored, names: list[str], notes: list[str], risk: bool = True
) -> dict[str, pl.DataFrame]:
    """The scored rows of ``names``, each restricted to the splits where all of them could be
    calibrated.

    A model calibrated on no split at all is left out (the report names its failures); when
    no split is common to all, each model keeps its own.
    """
    present = [name for name in names if _scored_rows(scored, name)]
    shared = set.intersection(*(set(scored.splits[name]) for name in present))
    if not shared:  # no split every model has: each keeps its own (the table counts them)
        notes.append(f"{', '.join(present)}: no split common to all; each is tested on its own")
        return {name: scored.pooled(name, risk=risk) for name in present}
    return {name: scored.pooled(name, shared, risk=risk) for name in present}


def _scored_rows(scored: _Scored, name: str) -> int:
    """How many scored test rows model ``name`` has."""
    return sum(scored.keys[split].height for split in scored.splits[name])


def _fit_sets(
    sets: dict[str, list[str]],
    rows: _Rows,
    settings: Settings,
    scored: _Scored,
    say: Say,
) -> dict[str, ladder.RungResult]:
    """The learned rung refitted on each feature set (identical sets are fitted once), its
    scored rows kept in ``scored`` under the set's name."""
    rung = next(r for r in ladder.default_ladder() if r.name == settings.evaluate.model)
    options = ladder.FitOptions(negative_fraction=rows.table.fraction, seed=settings.train.seed)
    fitted: dict[tuple[str, ...], tuple[str, ladder.RungResult]] = {}
    out = {}
    for name, features in sets.items():
        key = tuple(features)
        if key in fitted:
            scored.alias(name, fitted[key][0])
        else:
            say(f"  {rung.name} on {name} ({len(features)} features)")
            result = ladder.evaluate(
                [rung],
                rows.table,
                rows.splits,
                features,
                options,
                keep_scored=scored.keeper(name),
            )[0]
            fitted[key] = (name, result)
        out[name] = fitted[key][1]
    return out


def _failures(results: dict[str, ladder.RungResult]) -> list[str]:
    return [f"{name}: {f}" for name, r in results.items() for f in r.failures]


def _with_rows(scored: pl.DataFrame, tests: pl.DataFrame) -> pl.DataFrame:
    """The test rows of ``tests`` that ``scored`` holds, with its ``score`` and ``risk``.

    A model scores each split's test rows in the order they are read, split after split, and
    the test rows are read the same way: the two columns are set beside the rows rather than
    joined on the keys (a join would copy every feature column of every test row). When the
    scored splits follow each other in ``tests`` (all of them, the usual case), the rows are
    a slice of it, not a copy.

    Raises
    ------
    ValueError
        When a split's scored rows are not its test rows in their order.
    """
    keys = ["student_key", "as_of"]
    where = _runs(tests["split"])
    spans = []  # where each scored split's rows are in ``tests``, in the order scored
    for split, (start, height) in _runs(scored["split"]).items():
        offset, length = where.get(split, (0, 0))
        mine, theirs = scored.slice(start, height), tests.slice(offset, length)
        if length != height or not theirs.select(keys).equals(mine.select(keys)):
            raise ValueError(f"{split}: the scored rows are not the split's test rows in order")
        spans.append((offset, length))
    if not spans:
        rows = tests.clear()
    elif all(o == prev + n for (prev, n), (o, _) in pairwise(spans)):
        rows = tests.slice(spans[0][0], scored.height)
    else:  # one frame of one chunk (see _with_tests)
        rows = pl.concat([tests.slice(o, n) for o, n in spans], rechunk=True)
    return rows.hstack([scored["score"].rechunk(), scored["risk"].rechunk()])


def _runs(column: pl.Series) -> dict[str, tuple[int, int]]:
    """Where each value of ``column`` starts and how many rows it holds, each value being one
    run of rows (the splits of the test rows)."""
    runs = column.rle().struct.unnest()
    starts = runs["len"].cum_sum() - runs["len"]
    where = {
        str(v): (int(s), int(n)) for v, s, n in zip(runs["value"], starts, runs["len"], strict=True)
    }
    if len(where) != runs.height:
        raise ValueError(f"{column.name}: a value is found in more than one run of rows")
    return where


def _shap(
    result: ladder.RungResult, rows: _Rows, features: list[str], settings: Settings
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """Global SHAP importance of the full model of the last calibrated split, on its test rows."""
    calibrated = [i for i, m in enumerate(result.models) if m is not None]
    split, model = rows.splits[calibrated[-1]], result.models[calibrated[-1]]
    assert model is not None
    test = rows.table.part(split, "test")  # the test rows of that split, in their order
    fit = rows.table.fit(split)  # the sampled fit rows: the background is 200 of them
    seed = settings.evaluate.seed
    X = test.sample(min(test.height, settings.evaluate.shap_rows), seed=seed).select(features)
    background = fit.sample(min(fit.height, 200), seed=seed).select(features)
    explanation = explain(model, X.to_pandas(), background.to_pandas())
    values = np.asarray(explanation.values)
    return ev.global_importance(values, features), values, X.to_numpy()


def _metric_name(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def run_evaluate(workspace: Workspace, settings: Settings, say: Say = print) -> Evaluation:
    """Compute every part of the evaluation, write the report and the extract, log to MLflow.

    Holds the workspace's lock; the report's folder is written aside and swapped in whole.
    """
    with locked(workspace, "evaluate", say):
        return _evaluate(workspace, settings, say)


@dataclass(frozen=True)
class _Fits:
    """Today's rules and the learned model on every feature set, scored on every split."""

    rules: dict[str, ladder.RungResult]
    ablations: dict[str, ladder.RungResult]  # by feature set, :data:`ev.FULL` among them
    families: dict[str, ladder.RungResult]
    failures: list[str]  # the splits a rule or model could not be calibrated on
    scored: _Scored  # every rule's and feature set's scored test rows, by its name

    @property
    def full(self) -> ladder.RungResult:
        """The learned model on every feature."""
        return self.ablations[ev.FULL]


@dataclass(frozen=True)
class _Results:
    """What the report shows: the tables, and what its figures and notes need besides them."""

    tables: dict[str, pl.DataFrame]
    shap_values: np.ndarray  # SHAP values (log-odds) of the rows in ``shap_data``
    shap_data: np.ndarray  # the test rows SHAP explained, catalog features in order
    notes: list[str]  # calibration failures, then the model sets with no split in common
    best_rule: str | None  # the rule to beat week by week, if any rule could be calibrated


def _evaluate(workspace: Workspace, settings: Settings, say: Say) -> Evaluation:
    """Fit, compute every table, then write and log (:func:`run_evaluate` without the lock)."""
    conf = settings.evaluate
    rows = _rows(workspace, settings, say)
    features = feature_names()
    say(
        f"evaluating on {_test_rows(rows):,} test pupil-weeks of {len(rows.splits)} forward "
        f"splits (until {rows.until})"
    )
    with tempfile.TemporaryDirectory(prefix="scored-") as folder:
        fits = _fit_models(rows, settings, _Scored(Path(folder)), say)
        tables: dict[str, pl.DataFrame] = {}
        tables["importance"], shap_values, shap_data = _shap(fits.full, rows, features, settings)
        rows.table.release()  # the sampled fit rows: every fit is done
        rows = _with_tests(rows, settings)
        say("signals, ablations and lead time")
        notes: list[str] = []
        tables |= _feature_set_tables(rows, fits, conf, notes)
        compared = _common(fits.scored, [ev.FULL, *fits.rules], notes)
        tables["sample"] = ev.sample_sizes(compared[ev.FULL])
        tables["lead_time"] = ev.lead_time_curve(compared, k=conf.list_percent)
        tables["list_policies"] = _list_policies(compared[ev.FULL], settings)
        tables["rules_vs_model"] = _ranking(compared, conf)
        say("calibration, SHAP and week-by-week precision")
        tables["calibration"] = pl.concat(
            [ev.calibration_bins(f).with_columns(model=pl.lit(n)) for n, f in compared.items()]
        )
        best_rule = _best_rule(compared, fits.rules)
        tables["weekly_precision"] = ev.weekly_precision(
            {n: compared[n] for n in (ev.FULL, best_rule) if n is not None}, k=conf.signal_percent
        )
        say("fairness and errors")
        tables |= _group_tables(compared.pop(ev.FULL), rows, conf)
        del compared
    # The extract needs only which split a row was tested in: the test rows go first.
    rows = replace(rows, tests=rows.tests.select("student_key", "as_of", "split"))
    results = _Results(_in_order(tables), shap_values, shap_data, fits.failures + notes, best_rule)
    return _write(workspace, rows, results, settings, say)


TABLES = (
    "signals",
    "families",
    "ablations",
    "sample",
    "lead_time",
    "list_policies",
    "rules_vs_model",
    "calibration",
    "importance",
    "weekly_precision",
    "fairness",
    "errors",
    "false_positives",
    "profiles",
)
"""The evaluation's tables, in the order the report reads them."""


def _in_order(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    return {name: tables[name] for name in TABLES}


def _fit_models(rows: _Rows, settings: Settings, scored: _Scored, say: Say) -> _Fits:
    """Today's rules, and the learned model on every ablation and family feature set.

    Raises
    ------
    ladder.CalibrationError
        When the learned model on every feature could be calibrated on no split.
    """
    options = ladder.FitOptions(negative_fraction=rows.table.fraction, seed=settings.train.seed)
    # Today's rules, and the scorecard without its sign constraints: what the constraint costs.
    rungs = [r for r in ladder.default_ladder() if r.kind == "rule" or r.comparison_only]
    say("rules and the free scorecard:")
    for rung in rungs:
        scored.add(rung.name)
    rules = {
        r.rung.name: r
        for r in ladder.evaluate(
            rungs,
            rows.table,
            rows.splits,
            feature_names(),
            options,
            say,
            keep_scored=lambda result, frame: scored.keep(result.rung.name, frame),
        )
    }
    say("ablations and families on their own:")
    fitted = _fit_sets({**ev.ablation_sets(), **ev.family_sets()}, rows, settings, scored, say)
    ablations = {name: fitted[name] for name in ev.ablation_sets()}
    families = {name: fitted[name] for name in ev.family_sets()}
    full = ablations[ev.FULL]
    if not scored.splits[ev.FULL]:
        raise ladder.CalibrationError(
            f"the {ev.FULL} could not be calibrated on any split: " + "; ".join(full.failures)
        )
    return _Fits(rules, ablations, families, _failures({**rules, **fitted}), scored)


def _ranking(
    scored: dict[str, pl.DataFrame], conf: EvaluateSettings, baseline: str | None = None
) -> pl.DataFrame:
    """:func:`models.evaluation.ranking_table` at the report's two list sizes, bootstrapped."""
    return ev.ranking_table(
        scored,
        ks=(conf.list_percent, conf.signal_percent),
        n_boot=conf.bootstrap,
        seed=conf.seed,
        baseline=baseline,
    )


def _feature_set_tables(
    rows: _Rows, fits: _Fits, conf: EvaluateSettings, notes: list[str]
) -> dict[str, pl.DataFrame]:
    """``signals``, ``families`` and ``ablations``: what each feature, family and feature set
    predicts on its own (a model not compared on every split adds to ``notes``)."""
    signals = ev.signal_table(rows.tests, feature_names(), k=conf.signal_percent)
    families = _ranking(_common(fits.scored, list(fits.families), notes, risk=False), conf).rename(
        {"model": "family"}
    )
    families = ev.family_prevalence(rows.tests).join(families, on="family", how="right")
    ablations = _ranking(
        _common(fits.scored, list(fits.ablations), notes, risk=False),
        conf,
        baseline=ev.BASELINE,
    ).rename({"model": "features"})
    return {"signals": signals, "families": families, "ablations": ablations}


def _best_rule(
    compared: dict[str, pl.DataFrame], rules: dict[str, ladder.RungResult]
) -> str | None:
    """The rule to beat week by week: the best calibrated one (none when no rule could be)."""
    return max(
        (n for n in compared if n in rules and rules[n].rung.kind == "rule"),
        key=lambda n: np.nan_to_num(ladder.selection_score(rules[n]), nan=-np.inf),
        default=None,
    )


_RANKED = ("student_key", "as_of", "school_id", "score", "label")
"""What a ranking of scored rows reads: who, which school-week, the score and the label."""


def _group_tables(
    full: pl.DataFrame, rows: _Rows, conf: EvaluateSettings
) -> dict[str, pl.DataFrame]:
    """``fairness``, ``errors`` and ``false_positives`` of the learned model on every feature
    (``full``: its scored test rows)."""
    k, seed = conf.list_percent, conf.seed
    full_rows = _with_rows(full, rows.tests)
    return {
        "fairness": pl.concat(
            [
                fairness(
                    full_rows.select(*_RANKED, a),  # its copies hold only what it reads
                    a,
                    k=k,
                    n_boot=conf.bootstrap,
                    seed=seed,
                    min_group=conf.min_cell,
                )
                for a in ATTRIBUTES
            ],
            how="vertical_relaxed",
        ),
        "errors": ev.error_profile(
            full_rows, feature_names(), k=k, seed=seed, min_cell=conf.min_cell
        ),
        "false_positives": ev.false_positive_outcomes(
            full_rows, k=k, seed=seed, min_cell=conf.min_cell
        ),
        "profiles": profile_outcomes(
            full_rows.filter(pl.Series(random_tie_flags(full_rows, k, seed))).with_columns(
                profile()
            ),
            conf.min_cell,
        ),
    }


def _write(
    workspace: Workspace, rows: _Rows, results: _Results, settings: Settings, say: Say
) -> Evaluation:
    """Write the evaluation's folder aside and swap it in whole, then log it to MLflow."""
    final = workspace.root / "evaluation" / f"until={rows.until.isoformat()}"
    with staged(workspace) as stage:
        folder = stage.path(final)
        _write_evaluation(folder, rows, results.tables, settings, say)
        report, _ = _document(folder, rows, results, settings).write()
    report, extract_path = final / report.name, final / "research_extract.parquet"
    run_id = _log(workspace, settings, rows, results.tables, final)
    say(f"report: {report} (and report.html); extract: {extract_path}")
    return Evaluation(rows.until, rows.splits, results.tables, final, report, extract_path, run_id)


def _write_evaluation(
    folder: Path, rows: _Rows, tables: dict[str, pl.DataFrame], settings: Settings, say: Say
) -> None:
    """The tables, the splits and the research extract, in the evaluation's folder."""
    (folder / "figures").mkdir(parents=True, exist_ok=True)
    (folder / "tables").mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        write_parquet(table, folder / "tables" / f"{name}.parquet")
    splits_table = pl.DataFrame(
        [
            {
                "split": s.name,
                "fit_end": s.fit_end,
                "calibration_start": s.calibration_start,
                "calibration_end": s.calibration_end,
                "test_start": s.test_start,
                "test_end": s.test_end,
            }
            for s in rows.splits
        ]
    )
    write_parquet(splits_table, folder / "tables" / "splits.parquet")
    say("research extract")
    # Every usable row, a few pupils at a time, its features as the analyses read them (32-bit:
    # at full precision a few values would tie differently, and the report's tables would not
    # come out again from the extract).
    in_test = rows.tests.select("student_key", "as_of", "split")
    extract_rows = (
        rows.table.scan(rows.table.dates)
        .join(rows.students.lazy(), on="student_key", how="left")
        .join(in_test.lazy(), on=["student_key", "as_of"], how="left")
        .with_columns(pl.col(feature_names()).cast(pl.Float32))
    )
    chunks = research_extract_chunks(
        extract_rows, feature_names(), min_cell=settings.evaluate.min_cell
    )
    write_atomic(folder / "research_extract.parquet", lambda p: _write_chunks(chunks, p))


def _write_chunks(chunks: Iterator[pl.DataFrame], path: Path) -> None:
    """One Parquet file of ``chunks`` (at least one, all of one schema), one row group each."""
    import pyarrow.parquet as pq

    first = next(chunks).to_arrow()
    with pq.ParquetWriter(path, first.schema, compression="zstd") as writer:
        writer.write_table(first)
        for chunk in chunks:
            writer.write_table(chunk.to_arrow().cast(first.schema))


def _ci(row: dict[str, object], metric: str) -> str:
    value, low, high = (row[metric], row[f"{metric}_low"], row[f"{metric}_high"])
    return f"{value:.3f} ({low:.3f}-{high:.3f})"


def _ablation_view(table: pl.DataFrame, k: float, k_signal: float) -> pl.DataFrame:
    """The ablation table as read in the report: values with their 95% intervals."""
    return pl.DataFrame(
        [
            {
                "features": row["features"],
                f"precision top {k:g}%": _ci(row, f"precision_at_{k:g}"),
                f"recall top {k:g}%": _ci(row, f"recall_at_{k:g}"),
                f"precision top {k_signal:g}%": _ci(row, f"precision_at_{k_signal:g}"),
                f"gain over B-codes (top {k:g}%)": _ci(row, f"gain_at_{k:g}"),
                "flagged >= 4 weeks ahead": row["flagged_4w_ahead"],
                "median lead (weeks)": row["median_lead_weeks"],
            }
            for row in table.iter_rows(named=True)
        ]
    )


def _rules_view(table: pl.DataFrame, k: float) -> pl.DataFrame:
    """The learned model against today's rules as read in the report, with 95% intervals."""
    return pl.DataFrame(
        [
            {
                "model": row["model"],
                f"precision top {k:g}%": _ci(row, f"precision_at_{k:g}"),
                f"recall top {k:g}%": _ci(row, f"recall_at_{k:g}"),
                "flagged >= 4 weeks ahead": row["flagged_4w_ahead"],
                "median lead (weeks)": row["median_lead_weeks"],
            }
            for row in table.iter_rows(named=True)
        ]
    )


def _labelled(table: pl.DataFrame) -> pl.DataFrame:
    """``table`` with each catalog feature named by its words rather than its column."""
    return table.with_columns(pl.col("feature").replace_strict(_LABELS))


_LABELS = {name: feature.en for name, feature in BY_NAME.items()}


def _document(folder: Path, rows: _Rows, results: _Results, settings: Settings) -> Document:
    """The report: a summary, how it was tested, then its seven sections, figures drawn into
    ``folder``."""
    doc = Document(f"schoolpoort research evaluation (until {rows.until})", folder)
    _summary(doc, results, settings)
    _introduction(doc, rows, results.tables["sample"], results.notes, settings)
    _signals_section(doc, results.tables, settings)
    _ablations_section(doc, results.tables, settings)
    _lead_time_section(doc, results.tables, settings)
    _list_policies_section(doc, results.tables, settings)
    _calibration_section(doc, results, settings)
    _fairness_section(doc, results.tables, settings)
    _errors_section(doc, rows, results.tables, settings)
    _extract_section(doc, results.tables, settings)
    return doc


def _figures(doc: Document) -> Path:
    """The folder of the report's figures."""
    return doc.folder / "figures"


def _summary(doc: Document, results: _Results, settings: Settings) -> None:
    """The headline numbers in one paragraph, each read from a table the report shows."""
    k, horizon = settings.evaluate.list_percent, settings.train.horizon_weeks
    n = results.tables["sample"].row(0, named=True)
    ranking = {row["model"]: row for row in results.tables["rules_vs_model"].iter_rows(named=True)}
    full, precision = ranking[ev.FULL], f"precision_at_{k:g}"
    rule = ranking.get(results.best_rule or "")
    words = {r.name: r.description.rstrip(".") for r in ladder.default_ladder()}
    doc.heading("Summary")
    doc.text(
        f"On {n['weeks']:,} school weeks held out forward in time ({n['splits']} splits), with "
        f"{n['pupils']:,} pupils in {n['schools']:,} schools ({n['pupil_weeks']:,} pupil-weeks) "
        f"and {n['cases']:,} new school-refusal cases, the learned model "
        f"({settings.evaluate.model} on every feature) reached a precision of "
        f"{_ci(full, precision)} on the weekly list, the top {k:g}% of each school: that share "
        f"of the listed pupil-weeks was followed by a new case within the {horizon}-week horizon. "
        + (
            f"The best of today's rules, {rule['model']} ({words[rule['model']]}), reached "
            f"{_ci(rule, precision)}. "
            if rule
            else "No rule could be calibrated to compare with. "
        )
        + f"The model flagged {full['flagged_4w_ahead']:.1%} of the new cases at least 4 weeks "
        "before their label date"
        + (f" (the rule {rule['flagged_4w_ahead']:.1%})" if rule else "")
        + f", a median of {full['median_lead_weeks']:.1f} weeks ahead for the cases it flagged. "
        "The intervals after each precision are 95% pupil-bootstrap intervals; every number is "
        "in the tables below (what was compared, and section 3)."
    )


def _introduction(
    doc: Document, rows: _Rows, sample: pl.DataFrame, failures: list[str], settings: Settings
) -> None:
    """How the models were tested (splits, labels, lists, intervals) and what could not be."""
    conf = settings.evaluate
    k = conf.list_percent
    positives = rows.test_positives
    doc.heading("How the models were tested")
    doc.text(
        f"{len(rows.splits)} forward-in-time splits (fit, then calibrate on later weeks, then test "
        f"on the weeks after); {rows.test_rows:,} test pupil-weeks, {positives:,} of them "
        f"followed by a new school-refusal case within {settings.train.horizon_weeks} weeks. "
        f"A pupil is flagged when in the top {k:g}% of their school that week. Intervals are "
        f"95% pupil-bootstrap intervals ({conf.bootstrap} resamples): they hold the fitted "
        "rankings fixed and treat pupils as independent (pupils of one school share a school), "
        f"so they are narrower than a full refit-and-cluster bootstrap would give. Learned "
        f"model: {conf.model}, refitted on every split for every feature set."
    )
    doc.text(
        "What the learned model and the rules were compared on (the test weeks of the splits "
        "every one of them could be calibrated on; cases: new school-refusal cases those weeks "
        "lead to):"
    )
    doc.table(sample)
    doc.figure(plots.splits_plot(rows.splits, _figures(doc) / "splits.png"), "Forward splits")
    if failures:
        doc.note(
            "Not calibrated, or not compared on the same splits (a model has no metrics for a "
            "split it could not be calibrated on; comparisons use the splits every model has): "
            + "; ".join(failures)
        )


def _signals_section(doc: Document, tables: dict[str, pl.DataFrame], settings: Settings) -> None:
    """Section 1: each feature, then each family of features, on its own."""
    conf = settings.evaluate
    k, k_signal = conf.list_percent, conf.signal_percent
    doc.heading("1. Signals on their own")
    doc.text(
        f"Each feature ranks the pupils of a school by itself, in its expected direction (higher "
        "is riskier where the catalog gives none; school-wide features tie every pupil of a "
        "school, so their lift is 1); "
        f"precision, recall and lift (precision / base rate) in the top {k_signal:g}%, and the "
        "median lead time of the cases it flags. Prevalence: share of pupil-weeks where the "
        "feature is not 0."
    )
    doc.table(_labelled(tables["signals"]))
    doc.text(
        f"Each family on its own: {conf.model} refitted on that family's features only "
        "(prevalence: share of pupil-weeks where any of its features is not 0; lift: precision "
        "over the base rate)."
    )
    doc.table(
        tables["families"].select(
            "family",
            "splits",
            "prevalence",
            f"lift_at_{k:g}",
            f"precision_at_{k:g}",
            f"recall_at_{k:g}",
            f"precision_at_{k_signal:g}",
            "flagged_4w_ahead",
            "median_lead_weeks",
        )
    )


def _ablations_section(doc: Document, tables: dict[str, pl.DataFrame], settings: Settings) -> None:
    """Section 2: the learned model on each feature set, against the B-codes alone."""
    k = settings.evaluate.list_percent
    doc.heading("2. Ablations: look at all absences, not only the B-codes")
    ablations = tables["ablations"]
    doc.table(_ablation_view(ablations, k, settings.evaluate.signal_percent))
    doc.figure(
        plots.interval_plot(
            ablations,
            "features",
            f"precision_at_{k:g}",
            _figures(doc) / "ablations.png",
            f"Precision in the top {k:g}% per school, with 95% intervals",
            "precision",
        ),
        "Ablations",
    )


def _lead_time_section(doc: Document, tables: dict[str, pl.DataFrame], settings: Settings) -> None:
    """Section 3: how early the learned model and today's rules flag the new cases."""
    k = settings.evaluate.list_percent
    doc.heading("3. Lead time: model against today's rules")
    doc.text(
        f"Share of new cases flagged (top {k:g}%) at least N weeks before their label date. "
        "A case never flagged counts as missed; ties in a score are broken at random, averaged "
        f"over {ev.TIE_DRAWS} draws. A lead is at most the {settings.train.horizon_weeks}-week "
        "horizon, and a case whose label date falls early in a test slice has fewer test weeks "
        "before it, so the shares for large N are lower bounds. Beside the rules, "
        "`scorecard_free` is the scorecard fitted without its signs bound to the catalog's "
        "directions: what the constraint (which keeps every reason in its direction) costs."
    )
    doc.table(tables["lead_time"])
    doc.figure(
        plots.lead_time_plot(tables["lead_time"], _figures(doc) / "lead_time.png", k), "Lead time"
    )
    doc.table(_rules_view(tables["rules_vs_model"], k))


def _list_policies(scored: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """The weekly lists replayed over the learned model's test weeks: every pupil above the
    cut, against at most ``max_new`` new names a week (:mod:`models.carelist`)."""
    k, lists = settings.evaluate.list_percent, settings.score
    kept = lists.capacity()
    capacity = replace(kept, keep_percent=None)
    unlimited = replace(capacity, max_new=scored.height or 1)
    return carelist.compare_policies(
        scored,
        k,
        lists.list_min,
        {
            f"top {k:g}% (at least {lists.list_min})": unlimited,
            f"top {k:g}%, at most {lists.max_new} new a week": capacity,
            f"the same, staying while in the top {lists.keep_percent:g}% (the weekly lists)": kept,
        },
    )


def _list_policies_section(
    doc: Document, tables: dict[str, pl.DataFrame], settings: Settings
) -> None:
    """Section 3, continued: what the weekly list asks of a care team, by how it is sized."""
    k, lists = settings.evaluate.list_percent, settings.score
    doc.heading("Lists a care team can hold", level=3)
    doc.text(
        f"The weekly lists replayed over the test weeks, school by school, from the learned "
        f"model's scores: every pupil in the top {k:g}% of the school (at least "
        f"{lists.list_min}), against the same cut with at most {lists.max_new} new names a "
        "week, a pupil already on the list keeping its place while above the cut, and against "
        f"that with a pupil staying while in the top {lists.keep_percent:g}% (the lists `score` "
        "writes, without the care team's feedback). Per school and week: names on the "
        "list, new names, and the share of the list that was on the last one; the median "
        "weeks a pupil stays on without a break; the share of pupils ever listed; precision "
        "(listed pupil-weeks with a new case in the horizon); the share of new cases listed "
        "before their label date, and the median lead in weeks."
    )
    doc.table(tables["list_policies"])


def _top_features(importance: pl.DataFrame) -> list[str]:
    """The four features with the largest mean absolute SHAP value."""
    return importance["feature"].head(4).to_list()


def _calibration_section(doc: Document, results: _Results, settings: Settings) -> None:
    """Section 4: calibration curves, global SHAP and its dependence, week-by-week precision."""
    conf = settings.evaluate
    k_signal = conf.signal_percent
    tables, fig = results.tables, _figures(doc)
    shap_values, shap_data, best_rule = results.shap_values, results.shap_data, results.best_rule
    doc.heading("4. Calibration, SHAP and decay over the year")
    bins = {
        str(name): part.drop("model")
        for (name,), part in tables["calibration"].group_by("model", maintain_order=True)
    }
    doc.figure(plots.calibration_curves(bins, fig / "calibration.png"), "Calibration (test slices)")
    importance = tables["importance"]
    doc.text(
        f"SHAP (log-odds of the uncalibrated {conf.model}) on {len(shap_values):,} test rows of "
        "the last split it was calibrated on: mean absolute value per feature. The dependence "
        f"plots show the mean SHAP value per bin of the feature (bins of at least "
        f"{conf.min_cell} rows; no single pupil's value is drawn)."
    )
    doc.table(_labelled(importance.head(15)))
    doc.figure(
        plots.importance_plot(_labelled(importance), fig / "shap_importance.png"), "Global SHAP"
    )
    top = _top_features(importance)
    order = [feature_names().index(f) for f in top]
    doc.figure(
        plots.dependence_plot(
            shap_values[:, order],
            shap_data[:, order],
            [_LABELS[f] for f in top],
            fig / "shap_dependence.png",
            min_rows=conf.min_cell,
        ),
        "SHAP dependence of the four most important features",
    )
    doc.text(
        f"Precision in the top {k_signal:g}% week by week ({ev.FULL}"
        + (f" and {best_rule}, the best rule)" if best_rule else ")")
        + "; each line breaks where a week has no as-of date (holidays, the summer)."
    )
    doc.figure(
        plots.weekly_precision_plot(tables["weekly_precision"], fig / "weekly.png", k_signal),
        "Week-by-week precision",
    )


def _fairness_section(doc: Document, tables: dict[str, pl.DataFrame], settings: Settings) -> None:
    """Section 5: the learned model's flags per group, as ratios to the largest group."""
    conf = settings.evaluate
    doc.heading("5. Fairness")
    band = f"{FAIRNESS_BAND[0]}-{FAIRNESS_BAND[1]}"
    doc.text(
        f"Per group of {', '.join(ATTRIBUTE_NAMES.values())}: flag rate, recall, false positive "
        f"rate and precision of the {ev.FULL} (fairlearn), each as a ratio to the largest group "
        f"with a 95% interval. Verdict: within when the interval lies inside {band}, outside "
        f"when wholly outside it, else uncertain. Groups under {conf.min_cell} pupils are "
        f"suppressed, and so is a metric over fewer than {conf.min_cell} pupils (too few pupils: "
        "recall over a handful of cases, say)."
    )
    doc.table(tables["fairness"])
    if tables["fairness"].height:
        doc.figure(
            plots.fairness_plot(tables["fairness"], _figures(doc) / "fairness.png", FAIRNESS_BAND),
            "Ratios to the reference group",
        )


def _errors_section(
    doc: Document, rows: _Rows, tables: dict[str, pl.DataFrame], settings: Settings
) -> None:
    """Section 6: how the false positives differ from the true ones, and what they become."""
    conf = settings.evaluate
    k = conf.list_percent
    doc.heading("6. Errors")
    doc.text(
        f"Flagged pupil-weeks (top {k:g}%) without a new refusal case next to those with one: "
        "feature means, sorted by their difference in standard deviations of the feature."
    )
    doc.table(_labelled(tables["errors"].head(15)))
    doc.text(
        "What the false positives turn out to be (pupils; a refusal case after the window "
        f"counts only if known before {rows.until}; counts under {conf.min_cell} are hidden, "
        "with a second one when a single hidden count could be worked out):"
    )
    doc.table(tables["false_positives"])
    doc.text(
        "How the profile on the list (refusal-, truancy-, illness-like or unclear, read off "
        "the pupil's own signals by fixed rules) turned out for the flagged pupil-weeks: the "
        "share with a new school-refusal case in the window, and the share whose first case "
        "in the window is of the profile's own type (school refusal, truancy, illness); "
        f"shares of fewer than {conf.min_cell} pupil-weeks are hidden."
    )
    doc.table(tables["profiles"])


def _extract_section(doc: Document, tables: dict[str, pl.DataFrame], settings: Settings) -> None:
    """Section 7: what the research extract holds and how it may be shared; the top features."""
    conf = settings.evaluate
    doc.heading("7. Research extract")
    doc.text(
        "research_extract.parquet: the catalog features, label, whole weeks to the label date, "
        "as-of week and test split of every usable pupil-week, with fresh random pupil and "
        "school ids (a new draw each run) and group attributes blanked where a school's "
        f"combination has fewer than {conf.min_cell} pupils. It is pseudonymised, not "
        "anonymous: whoever holds the school's raw data could recompute the features and link "
        "rows back to pupils, so share it only under a data-sharing agreement. It is written "
        "to the workspace only, not to MLflow."
    )
    doc.text(
        "Feature descriptions: "
        + "; ".join(f"{n}: {BY_NAME[n].en}" for n in _top_features(tables["importance"]))
        + " (full catalog: feature_catalog.csv of the training run)."
    )


def _log(
    workspace: Workspace,
    settings: Settings,
    rows: _Rows,
    tables: dict[str, pl.DataFrame],
    folder: Path,
) -> str:
    import mlflow

    experiment = tracking.use_workspace(workspace.root)
    manifest = json.loads(workspace.manifest.read_text("utf-8"))
    k = settings.evaluate.list_percent
    with mlflow.start_run(experiment_id=experiment, run_name=f"evaluate-until-{rows.until}") as run:
        mlflow.log_params(
            {
                **{
                    f"evaluate.{n}": v for n, v in settings.evaluate.model_dump(mode="json").items()
                },
                **{f"train.{n}": v for n, v in settings.train.model_dump(mode="json").items()},
                "until": rows.until.isoformat(),
                "input_fingerprint": manifest["fingerprint"],
                "git_commit": tracking.git_commit(),
            }
        )
        mlflow.set_tags({**tracking.package_versions(), "kind": "evaluation"})
        metrics: dict[str, float] = {}
        for row in tables["ablations"].iter_rows(named=True):
            for key in (f"precision_at_{k:g}", f"recall_at_{k:g}", f"gain_at_{k:g}"):
                value = row[key]
                if isinstance(value, float) and np.isfinite(value):
                    metrics[f"ablation.{_metric_name(row['features'])}.{key}"] = value
        verdicts = tables["fairness"].filter(pl.col("verdict") != "reference")
        for verdict in ("within", "outside", "uncertain"):
            metrics[f"fairness.{verdict}"] = float((verdicts["verdict"] == verdict).sum())
        mlflow.log_metrics(metrics)
        for path in ("report.md", "report.html"):
            mlflow.log_artifact(str(folder / path), artifact_path="evaluation")
        mlflow.log_artifacts(str(folder / "figures"), artifact_path="evaluation/figures")
        mlflow.log_artifacts(str(folder / "tables"), artifact_path="evaluation/tables")
        return str(run.info.run_id)


class NoEvaluationError(FileNotFoundError):
    """The workspace holds no evaluation yet."""


def latest_evaluation(workspace: Path) -> Path:
    """The folder of the workspace's most recent evaluation (by its ``until`` date)."""
    folders = sorted((workspace / "evaluation").glob("until=*/report.md"))
    if not folders:
        raise NoEvaluationError(
            f"{workspace}: no evaluation yet (run: schoolpoort evaluate --workspace {workspace})"
        )
    return folders[-1].parent


def load_tables(folder: Path) -> dict[str, pl.DataFrame]:
    """Every table an evaluation wrote, by name (``signals``, ``ablations``, ``fairness``...)."""
    return {p.stem: pl.read_parquet(p) for p in sorted((folder / "tables").glob("*.parquet"))}


def load_extract(folder: Path) -> pl.DataFrame:
    """The de-identified research extract, with the column names the metrics expect.

    ``pupil`` and ``school`` become ``student_key`` and ``school_id``, and ``label_date`` is
    approximated from the whole ``weeks_to_label`` (the end of that week), so
    :mod:`models.evaluation` runs on it unchanged (lead times to within a week).
    """
    return pl.read_parquet(folder / "research_extract.parquet").with_columns(
        pl.col("pupil").alias("student_key"),
        pl.col("school").alias("school_id"),
        (pl.col("as_of") + pl.duration(weeks=pl.col("weeks_to_label").cast(pl.Int64))).alias(
            "label_date"
        ),
    )
