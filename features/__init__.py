"""Raw exports -> canonical tables -> feature tables: pure polars functions, no file I/O.

Stages, in the order data flows through them:

- :mod:`features.canonical` (stage 1, ingest): the input contract, parsing and validation,
  code profiles, pseudonyms; :func:`features.canonical.tables.canonicalise` turns raw text
  tables into canonical ones and says what it quarantined.
- :mod:`features.school`: school time (the Flemish calendar, school days and school weeks),
  shared by ingest, the features and the simulator.
- :mod:`features.signals` (stage 2): one module per family of signals (absences, lateness,
  the sick bay, patterns, spells, trends, context, transition).
- The assembler, here: :mod:`features.catalog` declares every feature once (name, description
  in English and Dutch, unit, risk direction, family); :mod:`features.build` prepares the
  canonical tables (:mod:`features.pupil_days`, :mod:`features.running`,
  :mod:`features.windows`) and builds the table of one as-of date from them.
"""
