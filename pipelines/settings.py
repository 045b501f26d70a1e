"""One typed, frozen settings object: defaults, then a TOML file, then command-line flags."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.carelist import Capacity


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IngestSettings(_Frozen):
    """How exports are read and checked."""

    codes: str = Field("flanders", description="flanders, netherlands, edfi, or a TOML file")
    allow_unknown_codes: bool = Field(False, description="quarantine rows with unknown codes")
    morning_lessons: int = Field(4, ge=1, le=12, description="lessons 1..N form the morning")
    new_key: bool = Field(
        False, description="accept a pseudonym key other than the one the workspace was made with"
    )
    max_quarantine_share: float = Field(
        0.05, ge=0, le=1, description="a table with a larger share of rows quarantined stops ingest"
    )
    accept_quarantine: bool = Field(
        False, description="write the tables even when a share of rows over the gate is quarantined"
    )
    drop_tables: tuple[str, ...] = Field(
        (), description="tables the workspace holds that this export leaves out on purpose"
    )
    append: bool = Field(
        False,
        description="the export holds only the events since the last one (enrolments whole)",
    )
    ids: Literal["board", "per-school"] | None = Field(
        None,
        description="pupil ids unique across the board, or only per school "
        "(default: the workspace's, else board)",
    )
    partition_rows: int = Field(
        1_000_000,
        ge=1_000,
        description="about the most event rows checked at once: a larger export's events "
        "are read and checked in parts by pupil (less memory, a little more time)",
    )


class TrainSettings(_Frozen):
    """How the ladder is trained and validated."""

    until: dt.date | None = Field(None, description="use only what was known before this date")
    horizon_weeks: int = Field(8, ge=1, le=26, description="label window after the as-of date")
    calibration_weeks: int = Field(8, ge=2, description="as-of weeks in each calibration slice")
    test_weeks: int = Field(8, ge=1, description="as-of weeks in each test slice")
    max_splits: int = Field(6, ge=1, description="forward splits, counted back from --until")
    min_fit_weeks: int = Field(
        26, ge=4, description="fewest as-of weeks a split's fit part may have"
    )
    negative_fraction: float = Field(0.25, gt=0, le=1, description="share of non-cases kept to fit")
    negatives_per_positive: float = Field(
        50, gt=0, description="at most this many non-cases kept to fit per positive pupil-week"
    )
    seed: int = 0
    model_name: str = "schoolpoort-risk"
    min_cases: int = Field(
        20, ge=1, description="fewest new cases in the training rows to train the ladder at all"
    )
    cold_start_rule: Literal["rule_mzl", "rule_flanders_b5", "rule_absence_10pct"] = Field(
        "rule_mzl", description="the rule registered as champion when there is too little history"
    )


class ScoreSettings(_Frozen):
    """What the weekly lists look like."""

    list_percent: float = Field(2.0, gt=0, le=100, description="top share of each school listed")
    list_min: int = Field(3, ge=1, description="fewest pupils on a school's list")
    explain_percent: float = Field(
        10.0, gt=0, le=100, description="top share of each school explained with SHAP"
    )
    language: Literal["nl", "en"] = Field("nl", description="language of reasons and lists")
    model_name: str = "schoolpoort-risk"
    max_new: int = Field(
        5, ge=0, description="new names on a school's list a week, on top of those already on it"
    )
    keep_percent: float = Field(
        4.0,
        gt=0,
        le=100,
        description="a pupil on the list stays while in this top share of the school",
    )
    rest_weeks: int = Field(
        6, ge=0, description="weeks a pupil marked 'geen zorg nu' is not listed again"
    )
    rest_rise: float = Field(
        1.5, gt=1, description="a resting pupil whose risk rises this many times is listed again"
    )

    def capacity(self) -> Capacity:
        """What the weekly lists take on (:class:`models.carelist.Capacity`)."""
        return Capacity(self.max_new, self.rest_weeks, self.rest_rise, self.keep_percent)


class EvaluateSettings(_Frozen):
    """What the research evaluation computes (splits and horizon come from ``train``)."""

    model: Literal["scorecard", "monotone_gbm"] = Field(
        "scorecard", description="the learned rung retrained for ablations and families"
    )
    list_percent: float = Field(
        2.0, gt=0, le=100, description="top share of each school counted as flagged"
    )
    signal_percent: float = Field(
        5.0, gt=0, le=100, description="top share for single signals and week-by-week precision"
    )
    bootstrap: int = Field(200, ge=20, description="pupil bootstrap resamples for intervals")
    shap_rows: int = Field(2000, ge=100, description="test rows explained for global SHAP")
    min_cell: int = Field(10, ge=5, description="fewest pupils a shown group or cell may have")
    seed: int = 0


class ServeSettings(_Frozen):
    """How the weekly deployment runs."""

    export: Path | None = Field(
        None, description="folder where the weekly export lands (default: the last ingested one)"
    )
    cron: str = Field("0 6 * * 1", description="when the weekly flow runs (cron)")
    timezone: str = "Europe/Brussels"


class RunSettings(_Frozen):
    """Where the flows' tasks run: in this process (``local``), or on a Dask cluster."""

    runner: Literal["local", "dask"] = Field(
        "local", description="local: this process; dask: the workers of a Dask cluster"
    )
    dask_address: str | None = Field(
        None,
        description="scheduler of an existing Dask cluster, tcp://host:port "
        "(default: a LocalCluster on this machine, for trying it)",
    )
    dask_workers: int = Field(
        2, ge=1, description="worker processes of the LocalCluster (without --dask-address)"
    )
    shards: int = Field(
        8, ge=1, description="groups of schools the board's work is split into on Dask"
    )


class Settings(_Frozen):
    """Everything a run can be told. Loaded once, passed down, never read at import time."""

    workspace: Path = Path("workspace")
    ingest: IngestSettings = IngestSettings()
    train: TrainSettings = TrainSettings()
    score: ScoreSettings = ScoreSettings()
    evaluate: EvaluateSettings = EvaluateSettings()
    serve: ServeSettings = ServeSettings()
    run: RunSettings = RunSettings()

    @classmethod
    def load(cls, config: Path | None = None, **overrides: Any) -> Settings:
        """Defaults, updated by ``config`` (TOML) when given, then by non-None ``overrides``.

        Overrides use dotted section names with double underscores, e.g.
        ``ingest__codes="edfi"``.
        """
        data: dict[str, Any] = {}
        if config is not None:
            try:
                data = tomllib.loads(config.read_text("utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise SettingsError(f"{config}: cannot read settings ({exc})") from exc
        for key, value in overrides.items():
            if value is None:
                continue
            *sections, leaf = key.split("__")
            node = data
            for depth, section in enumerate(sections, start=1):
                node = node.setdefault(section, {})
                if not isinstance(node, dict):
                    where = ".".join(sections[:depth])
                    raise SettingsError(
                        f"setting {where}: must be a section ([{where}]), not a value"
                    )
            node[leaf] = value
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise SettingsError(f"setting {where}: {first['msg']}") from exc


class SettingsError(ValueError):
    """A settings file or flag that cannot be used."""
