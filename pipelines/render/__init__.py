"""What people read: the care team's lists (:mod:`~pipelines.render.reports`), the research
report (:mod:`~pipelines.render.document`) and figures (:mod:`~pipelines.render.plots`)."""
