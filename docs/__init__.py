"""The project's documents, shipped with the package (read them with `phasewatch docs`)."""
