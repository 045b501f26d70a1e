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
# # How early does a warning come?
#
# The longer a pupil is absent, the harder the return: a flag is worth most weeks before the
# case would otherwise be noticed. Lead time here is the number of weeks between the first
# week a future case enters the top 2% of their school and the case's label date (its onset,
# or its opening when the onset is unknown). Reads what `schoolpoort evaluate` wrote.

# %%
import os
from pathlib import Path

import polars as pl
from IPython.display import Image, display

from models.evaluation import FULL
from pipelines.steps.evaluate import latest_evaluation, load_extract, load_tables

workspace = Path(os.environ.get("SCHOOLPOORT_WORKSPACE", "workspace"))
folder = latest_evaluation(workspace)
tables = load_tables(folder)

# %% [markdown]
# ## Share of cases flagged at least N weeks ahead: model against today's rules

# %%
lead = tables["lead_time"]
lead

# %%
display(Image(filename=str(folder / "figures" / "lead_time.png")))

# %% [markdown]
# How many times more cases the model flags a month ahead than the best rule:

# %%
rules = [c for c in lead.columns if c.startswith("rule_")]
month = lead.filter(pl.col("weeks_before") == 4)
best_rule = max(rules, key=lambda r: month[r].item())
ratio = month[FULL].item() / month[best_rule].item() if month[best_rule].item() else float("inf")
print(
    f"flagged >= 4 weeks ahead: {FULL} {month[FULL].item():.1%}, "
    f"{best_rule} {month[best_rule].item():.1%} ({ratio:.1f}x)"
)

# %% [markdown]
# ## Which signal families warn earliest?

# %%
tables["families"].select("family", "flagged_4w_ahead", "median_lead_weeks", "recall_at_2").sort(
    "flagged_4w_ahead", descending=True
)

# %% [markdown]
# ## Does precision decay over the school year?
# Precision in the top 5% per test week, by month of the school year.

# %%
weekly = tables["weekly_precision"]
weekly.group_by("model", pl.col("as_of").dt.month().alias("month")).agg(
    pl.col("precision").mean(), pl.len().alias("weeks")
).sort("model", "month")

# %%
display(Image(filename=str(folder / "figures" / "weekly.png")))

# %% [markdown]
# ## How far ahead are the labels in the extract?
# For the positive test weeks, the distribution of whole weeks to the label date (1..horizon):
# every week a case is in the data before its label is a chance to flag it.

# %%
extract = load_extract(folder)
positives = extract.filter((pl.col("label") == 1) & pl.col("split").is_not_null())
positives.group_by("weeks_to_label").len().sort("weeks_to_label")
