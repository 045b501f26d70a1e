"""Stage 1, ingest: raw export tables (text) -> canonical, pseudonymised tables.

- :mod:`~features.canonical.contract`: the input contract, declared once (pandera models);
- :mod:`~features.canonical.validate`: parsing and the contract's checks, failures per row;
- :mod:`~features.canonical.codes`: code profiles (a school's own codes -> categories);
- :mod:`~features.canonical.pseudonym`: keyed pseudonyms for pupil ids;
- :mod:`~features.canonical.tables`: :func:`~features.canonical.tables.canonicalise`, which
  runs all of it and reconciles every row (accepted, quarantined or a duplicate).
"""
