"""Stage 2: the signals, one module per family, each feature an expression or a small frame
named after its column (:mod:`features.catalog` declares them): absences, lateness, the sick
bay, patterns, spells, trends, class and school context, and the transition year."""
