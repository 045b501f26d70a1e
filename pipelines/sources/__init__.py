"""Where an export comes from: :mod:`~pipelines.sources.readers` reads a folder of table files
(one line per problem, never the file's content); :mod:`~pipelines.sources.edfi` converts Ed-Fi
XML interchanges into such a folder."""
