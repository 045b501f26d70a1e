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
# # For whom does the list work?
#
# School refusal affects boys and girls alike and has no link with SES; pupils with autism or
# learning disorders are more vulnerable. A list that flags one group more often is only
# fair if that group also has more cases. Per group of gender, SES and SEN: flag rate,
# recall, false positive rate and precision (fairlearn), their ratio to the largest group
# with a 95% pupil-bootstrap interval, and a verdict against the 0.8-1.25 band. Groups under
# 10 pupils are suppressed.

# %%
import os
from pathlib import Path

import polars as pl
from IPython.display import Image, display

from models.fairness import FAIRNESS_BAND
from pipelines.steps.evaluate import latest_evaluation, load_extract, load_tables

pl.Config.set_tbl_rows(40)
workspace = Path(os.environ.get("SCHOOLPOORT_WORKSPACE", "workspace"))
folder = latest_evaluation(workspace)
fairness = load_tables(folder)["fairness"]

# %% [markdown]
# ## Verdicts per attribute and metric

# %%
compared = fairness.filter(pl.col("verdict") != "reference")
compared.select(
    "attribute", "group", "pupils", "metric", "value", "ratio", "ratio_low", "ratio_high", "verdict"
)

# %%
compared.pivot(on="metric", index=["attribute", "group"], values="verdict")

# %%
display(Image(filename=str(folder / "figures" / "fairness.png")))

# %% [markdown]
# ## Base rates: how common new cases are per group
# From the research extract (attributes blanked in small cells). A flag-rate ratio far from 1
# is expected where the base rates differ, as they do for SEN.

# %%
extract = load_extract(folder)
for attribute in ("gender", "ses_low", "sen"):
    print(
        extract.filter(pl.col(attribute).is_not_null())
        .group_by(attribute)
        .agg(
            pl.col("pupil").n_unique().alias("pupils"),
            pl.col("label").mean().alias("new_case_rate"),
        )
        .filter(pl.col("pupils") >= 10)
        .sort(attribute)
    )

# %% [markdown]
# ## Which metrics fall outside the band?

# %%
low, high = FAIRNESS_BAND
outside = compared.filter(pl.col("verdict") == "outside")
print(f"{outside.height} of {compared.height} comparisons lie wholly outside {low}-{high}")
outside.select("attribute", "group", "metric", "ratio", "ratio_low", "ratio_high")
