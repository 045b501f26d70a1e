from __future__ import annotations

import datetime as dt

import mlflow
import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from features.catalog import BY_NAME, FAMILIES, names
from models.evaluation import ABLATIONS, FULL
from models.fairness import METRICS, verdict
from pipelines import tracking
from pipelines.cli import app
from pipelines.steps.evaluate import Evaluation, _with_rows
from pipelines.workspace import Workspace
from tests.conftest import BOARD_KEY, EVALUATION
from tests.privacy import file_blobs, found, identifying_needles, mlflow_blobs

PARTS = (
    "## 1. Signals on their own",
    "## 2. Ablations",
    "## 3. Lead time",
    "## 4. Calibration, SHAP and decay over the year",
    "## 5. Fairness",
    "## 6. Errors",
    "## 7. Research extract",
)


def test_the_report_has_all_seven_parts_in_markdown_and_html(
    evaluated_board: tuple[Workspace, Evaluation],
) -> None:
    _, result = evaluated_board
    markdown = result.report.read_text("utf-8")
    page = result.report.with_suffix(".html").read_text("utf-8")
    for part in PARTS:
        assert part in markdown
        assert part.removeprefix("## ") in page
    figures = sorted(p.name for p in (result.folder / "figures").glob("*.png"))
    assert {"ablations.png", "lead_time.png", "calibration.png", "shap_importance.png"} <= set(
        figures
    )
    for name in figures:  # every figure is linked from the Markdown and embedded in the HTML
        assert f"(figures/{name})" in markdown
    assert page.count("data:image/png;base64,") == markdown.count("](figures/")


def _markdown_tables(markdown: str) -> list[list[dict[str, str]]]:
    """Every table of a Markdown report, as rows of cells by column name."""
    tables: list[list[dict[str, str]]] = []
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|---"):
            header = [c.strip() for c in lines[i - 1].strip("|").split(" | ")]
            rows = []
            for row in lines[i + 1 :]:
                if not row.startswith("| "):
                    break
                cells = [c.strip() for c in row.strip("|").split(" | ")]
                rows.append(dict(zip(header, cells, strict=True)))
            tables.append(rows)
    return tables


def test_the_summary_states_the_numbers_of_the_tables_below_it(
    evaluated_board: tuple[Workspace, Evaluation],
) -> None:
    _, result = evaluated_board
    markdown = result.report.read_text("utf-8")
    lines = markdown.splitlines()
    assert lines[2] == "## Summary"  # first, under the title
    summary = lines[4]
    tables = _markdown_tables(markdown)
    n = result.tables["sample"].row(0, named=True)
    [sample] = [t for t in tables if t and list(t[0]) == list(n)]
    [ranking] = [t for t in tables if t and list(t[0])[:2] == ["model", "precision top 2%"]]
    assert sample == [{k: str(v) for k, v in n.items()}]  # the table shows the sample...
    for words in (  # ...and the summary says it
        f"On {n['weeks']:,} school weeks held out forward in time ({n['splits']} splits)",
        f"{n['pupils']:,} pupils in {n['schools']:,} schools ({n['pupil_weeks']:,} pupil-weeks)",
        f"and {n['cases']:,} new school-refusal cases",
        "within the 8-week horizon",
    ):
        assert words in summary
    shown = {row["model"]: row for row in ranking}
    numbers = {r["model"]: r for r in result.tables["rules_vs_model"].iter_rows(named=True)}
    [rule] = [m for m in numbers if m != FULL and f"rules, {m} (" in summary]
    full = numbers[FULL]
    for name in (FULL, rule):  # the cell of the table, with its interval, is the summary's
        cell = shown[name]["precision top 2%"]
        values = (numbers[name][f"precision_at_2{end}"] for end in ("", "_low", "_high"))
        assert cell == "{:.3f} ({:.3f}-{:.3f})".format(*values)
        assert cell in summary
    assert f"reached a precision of {shown[FULL]['precision top 2%']} on the weekly list" in summary
    assert shown[FULL]["flagged >= 4 weeks ahead"] == f"{full['flagged_4w_ahead']:.3f}"
    assert f"flagged {full['flagged_4w_ahead']:.1%} of the new cases" in summary
    assert f"(the rule {numbers[rule]['flagged_4w_ahead']:.1%})" in summary
    assert shown[FULL]["median lead (weeks)"] == f"{full['median_lead_weeks']:.3f}"
    assert f"a median of {full['median_lead_weeks']:.1f} weeks ahead" in summary


def test_the_tables_name_features_by_their_catalog_words(
    evaluated_board: tuple[Workspace, Evaluation],
) -> None:
    _, result = evaluated_board
    markdown = result.report.read_text("utf-8")
    words = {f.en for f in BY_NAME.values()}
    featured = [t for t in _markdown_tables(markdown) if t and "feature" in t[0]]
    assert len(featured) == 3  # signals, SHAP importance, errors
    for table in featured:
        assert {row["feature"] for row in table} <= words
    assert len(featured[0]) == len(names())  # every signal, each by its words
    cells = {c for table in _markdown_tables(markdown) for row in table for c in row.values()}
    assert not cells & set(names())  # no column name left in any table
    importance = result.tables["importance"]["feature"].to_list()
    assert importance and set(importance) <= set(names())  # the parquet keeps the columns


def test_ablations_are_the_ladder_of_signal_groups_on_the_same_pupils(
    evaluated_board: tuple[Workspace, Evaluation],
) -> None:
    _, result = evaluated_board
    table = result.tables["ablations"]
    assert table["features"].to_list() == [label for label, _ in ABLATIONS]
    for k in ("2", "5"):
        assert (table[f"precision_at_{k}_low"] <= table[f"precision_at_{k}"]).all()
        assert (table[f"precision_at_{k}"] <= table[f"precision_at_{k}_high"]).all()
    assert table.filter(pl.col("features") == "B-codes only")["gain_at_2"].item() == 1.0
    families = result.tables["families"]
    assert set(families["family"]) <= set(FAMILIES) and families.height >= 5
    assert families["prevalence"].is_between(0, 1).all()
    assert (families["lift_at_2"] >= 0).all()
    lead = result.tables["lead_time"]
    assert lead["weeks_before"].to_list() == list(range(9))
    assert FULL in lead.columns and "rule_flanders_b5" in lead.columns
    # a share flagged at least N weeks ahead can only fall as N grows
    assert (lead[FULL].diff().drop_nulls() <= 1e-12).all()


def test_fairness_shows_only_groups_of_ten_or_more_with_a_verdict_per_metric(
    evaluated_board: tuple[Workspace, Evaluation],
) -> None:
    # The verdict of each input is pinned in tests/models/test_fairness.py; on the board, each
    # shown verdict must be the one the rule gives for the row's own numbers.
    _, result = evaluated_board
    table = result.tables["fairness"]
    assert set(table["attribute"]) == {"gender", "ses_low", "sen"}
    assert (table["pupils"] >= 10).all()
    for key, rows in table.group_by("attribute", "group", maintain_order=True):
        assert rows["metric"].to_list() == list(METRICS), key
    for _, rows in table.group_by("attribute"):
        [reference] = rows["reference"].unique().to_list()
        assert rows.filter(pl.col("group") == reference)["pupils"][0] == rows["pupils"].max()
        base = rows.filter(pl.col("group") == reference).select("metric", base="value")
        for row in rows.join(base, on="metric").iter_rows(named=True):
            shown = (row["attribute"], row["group"], row["metric"], row["verdict"])
            if row["verdict"] == "too few pupils":
                assert all(np.isnan(row[c]) for c in ("value", "ratio", "ratio_low")), shown
            elif row["group"] == reference:
                assert row["verdict"] == "reference", shown
            elif np.isnan(row["value"]) or not row["base"]:
                assert row["verdict"] == "not defined" and np.isnan(row["ratio"]), shown
            else:
                assert row["verdict"] == verdict(row["ratio_low"], row["ratio_high"]), shown
                assert row["ratio"] == pytest.approx(row["value"] / row["base"]), shown


def test_the_evaluation_is_one_mlflow_run_with_the_report_and_no_extract(
    evaluated_board: tuple[Workspace, Evaluation],
) -> None:
    ws, result = evaluated_board
    tracking.use_workspace(ws.root)
    client = mlflow.MlflowClient()
    run = client.get_run(result.run_id)
    assert run.data.tags["kind"] == "evaluation"
    assert run.data.metrics["ablation.full_model.precision_at_2"] == (
        result.tables["ablations"].filter(pl.col("features") == FULL)["precision_at_2"].item()
    )
    logged = {a.path for a in client.list_artifacts(result.run_id, "evaluation")}
    assert {"evaluation/report.md", "evaluation/report.html", "evaluation/tables"} <= logged
    every = [a.path for a in client.list_artifacts(result.run_id, "evaluation/tables")]
    assert not any("extract" in path for path in every + sorted(logged))


def test_nothing_in_the_report_the_extract_or_mlflow_identifies_a_pupil(
    evaluated_board: tuple[Workspace, Evaluation], small_board
) -> None:  # type: ignore[no-untyped-def]
    ws, result = evaluated_board
    needles = identifying_needles(small_board, BOARD_KEY)
    shown = file_blobs(p for p in result.folder.rglob("*"))
    assert result.extract in set(result.folder.rglob("*"))
    assert found(needles, shown) == []
    assert found(needles, mlflow_blobs(ws.root, tracking.artifact_root(ws.root))) == []
    schools = pl.read_csv(small_board / "enrolments.csv", separator=";")["school_id"].unique()
    extract = pl.read_parquet(result.extract)
    assert not set(extract["school"]) & set(schools)
    assert "class_key" not in extract.columns and "label_date" not in extract.columns


def test_the_extract_blanks_the_attributes_of_small_cells(
    evaluated_board: tuple[Workspace, Evaluation],
) -> None:
    _, result = evaluated_board
    extract = pl.read_parquet(result.extract)
    assert extract["split"].drop_nulls().n_unique() == len(result.splits)
    shown = extract.filter(pl.col("gender").is_not_null())
    cells = shown.group_by("school", "gender", "ses_low", "sen").agg(pl.col("pupil").n_unique())
    assert (cells["pupil"] >= 10).all()
    assert extract["gender"].null_count() > 0  # the small board has small cells


def test_evaluate_on_the_command_line_prints_ablations_verdicts_and_draws_new_ids(
    evaluated_board: tuple[Workspace, Evaluation], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    ws, result = evaluated_board
    before = pl.read_parquet(result.extract)
    config = tmp_path / "settings.toml"
    config.write_text(
        "[train]\nmax_splits = 2\n[evaluate]\n"
        + "".join(f"{k} = {v}\n" for k, v in EVALUATION.items()),
        encoding="utf-8",
    )
    args = ["evaluate", "--workspace", str(ws.root), "--until", "2025-03-01"]
    run = CliRunner().invoke(app, [*args, "--config", str(config)])
    assert run.exit_code == 0, run.output
    assert "ablations (top 2% of each school, pooled over 2 splits)" in run.output
    assert "fairness verdicts" in run.output and "report:" in run.output
    after = pl.read_parquet(result.extract)
    assert after.height == before.height
    assert (
        after.drop("pupil", "school")
        .sort(after.drop("pupil", "school").columns)
        .equals(before.drop("pupil", "school").sort(before.drop("pupil", "school").columns))
    )  # the same rows...
    key = ["as_of", *after.columns[6:]]  # week, attributes and features: unique rows link 1:1
    unique = before.filter(pl.struct(key).is_unique())
    link = unique.join(after, on=key, how="inner", nulls_equal=True, suffix="_new")
    assert link.height > 1000
    assert (link["pupil"] != link["pupil_new"]).mean() > 0.9  # ...under new random ids


def test_evaluate_without_a_workspace_fails_in_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["evaluate", "--workspace", str(tmp_path / "none")])
    assert result.exit_code == 2
    # Prefect's own log lines (the flow run beginning and failing) may come first, as on a
    # real console; then exactly one error line, the last, and no traceback.
    lines = result.output.splitlines()
    assert [line for line in lines if line.startswith("error:")] == lines[-1:]
    assert lines[-1].endswith("no canonical table; run `schoolpoort ingest` first")
    assert "Traceback" not in result.output


def test_the_scores_are_set_beside_the_test_rows_they_score_split_by_split() -> None:
    day = dt.date(2025, 3, 3)
    tests = pl.DataFrame(
        {
            "split": ["split1", "split1", "split2", "split3"],
            "student_key": ["a", "b", "a", "c"],
            "as_of": [day, day, day + dt.timedelta(weeks=1), day + dt.timedelta(weeks=2)],
            "feature": [1.0, 2.0, 3.0, 4.0],
        }
    )
    scored = tests.filter(pl.col("split") != "split2").select(
        "split", "student_key", "as_of", score=pl.Series([0.1, 0.2, 0.3]), risk=pl.lit(0.5)
    )
    rows = _with_rows(scored, tests)  # split2 was not scored: its rows are left out
    assert rows.select("split", "feature", "score").rows() == [
        ("split1", 1.0, 0.1),
        ("split1", 2.0, 0.2),
        ("split3", 4.0, 0.3),
    ]
    every = tests.select("split", "student_key", "as_of", score="feature", risk=pl.lit(0.5))
    assert _with_rows(every, tests).drop("score", "risk").equals(tests)
    swapped = scored.with_columns(student_key=pl.Series(["b", "a", "c"]))
    with pytest.raises(ValueError, match="split1: the scored rows are not"):
        _with_rows(swapped, tests)
