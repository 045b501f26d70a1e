"""Labels, forward splits, the ladder of rules and learned models, calibration, ranking and
metrics, SHAP reasons, the research evaluation, fairness and the research extract.

Pure: frames in, frames and fitted estimators out; :mod:`pipelines` reads, writes and logs.
"""
