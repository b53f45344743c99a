"""The ``phasewatch`` command line: one module per noun, thin over ``registry/``."""
