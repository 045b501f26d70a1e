"""The steps of the weekly loop, each reading from and writing to the workspace: ingest,
features (the feature store), train, score, evaluate. Flows and the CLI call these."""
