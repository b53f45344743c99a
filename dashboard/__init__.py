"""The interactive dashboard `phasewatch report` writes: stored results in, a folder of static files out."""
