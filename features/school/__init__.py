"""School time: the built-in Flemish calendar (:mod:`~features.school.calendar`) and school
days and weeks (:mod:`~features.school.schooldays`), used by ingest, the features and the
simulator alike."""
