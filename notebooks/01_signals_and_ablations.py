# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Which signals warn of school refusal?
#
# The material's central advice: look at *all* absences, late arrivals and sick-bay visits,
# not only the unjustified B-codes. This notebook reads what `schoolpoort evaluate` measured
# on the forward-in-time test weeks, then recomputes the single-signal table from the
# de-identified research extract, as a researcher without access to the workspace would.
#
# Set `SCHOOLPOORT_WORKSPACE` to the workspace (default: `workspace`, where `make demo` runs).

# %%
import os
from pathlib import Path

import polars as pl
from IPython.display import Image, display

from features.catalog import BY_NAME, names
from models.evaluation import ABLATIONS, signal_table
from pipelines.steps.evaluate import latest_evaluation, load_extract, load_tables

pl.Config.set_tbl_rows(60)
pl.Config.set_tbl_cols(12)
workspace = Path(os.environ.get("SCHOOLPOORT_WORKSPACE", "workspace"))
folder = latest_evaluation(workspace)
tables = load_tables(folder)
print(f"evaluation: {folder}")

# %% [markdown]
# ## Each signal on its own
# Ranking the pupils of each school by one feature: precision, recall and lift in the top 5%.
# The strongest signal of each family:

# %%
signals = tables["signals"]
best = (
    signals.sort("precision", descending=True)
    .group_by("family", maintain_order=True)
    .first()
    .select("family", "feature", "prevalence", "precision", "recall", "lift", "median_lead_weeks")
)
best

# %% [markdown]
# The B-code signals against the rest: how often each family's features appear in the top ten.

# %%
signals.head(10).group_by("family").len().sort("len", descending=True)

# %% [markdown]
# ## Ablations
# The same learned model refitted on each split with one group of signals added at a time,
# with 95% pupil-bootstrap intervals.

# %%
ablations = tables["ablations"]
assert ablations["features"].to_list() == [label for label, _ in ABLATIONS]
ablations.select(
    "features",
    "precision_at_2",
    "precision_at_2_low",
    "precision_at_2_high",
    "recall_at_2",
    "gain_at_2",
    "gain_at_2_low",
    "gain_at_2_high",
    "flagged_4w_ahead",
)

# %%
display(Image(filename=str(folder / "figures" / "ablations.png")))

# %% [markdown]
# ## Families on their own

# %%
tables["families"].select(
    "family", "splits", "precision_at_2", "recall_at_2", "flagged_4w_ahead", "median_lead_weeks"
).sort("precision_at_2", descending=True)

# %% [markdown]
# ## Reproduced from the research extract
# The extract holds the features, labels and splits under fresh random ids. Recomputing the
# single-signal table on its test weeks gives the same precision and recall as the report:
# the metrics share ties out by their expected value, so row order and ids do not matter.

# %%
extract = load_extract(folder)
test_weeks = extract.filter(pl.col("split").is_not_null())
again = signal_table(test_weeks, names(), k=5.0)
check = signals.join(again, on="feature", suffix="_extract")
max_gap = (check["precision"] - check["precision_extract"]).abs().max()
print(f"{check.height} features; largest precision difference: {max_gap:.2e}")
assert max_gap < 1e-9

# %% [markdown]
# The same table among first-year pupils only (the transition the material warns about):

# %%
first_years = test_weeks.filter(pl.col("first_year_secondary") == 1)
print(f"{first_years.height:,} first-year pupil-weeks, {int(first_years['label'].sum())} positive")
signal_table(first_years, names(("illness", "lateness", "sick_bay", "b_codes")), k=5.0).head(
    8
).with_columns(
    pl.col("feature").map_elements(lambda f: BY_NAME[f].en, return_dtype=pl.String).alias("meaning")
)
