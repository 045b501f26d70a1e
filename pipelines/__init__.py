"""Everything that reads, writes, logs or orchestrates; :mod:`features` and :mod:`models` stay pure.

- :mod:`pipelines.cli` (the ``schoolpoort`` command) and :mod:`pipelines.flows` (the Prefect
  flows and deployments);
- :mod:`pipelines.sources`: reading an export (CSV, Parquet, XLSX) and converting Ed-Fi XML;
- :mod:`pipelines.steps`: one module per step of the weekly loop (ingest, features, train,
  score, evaluate), each reading from and writing to the workspace;
- :mod:`pipelines.render`: what people read (the care-team lists, the research report, plots);
- the infrastructure they share: :mod:`pipelines.settings` (one typed settings object),
  :mod:`pipelines.workspace` (paths, the lock, atomic runs), :mod:`pipelines.tracking`
  (MLflow in the workspace) and :mod:`pipelines.artifacts` (the verified model file).
"""
