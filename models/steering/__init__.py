"""Steering: a truth direction at a decoder layer of any Hugging Face causal LM,
applied through hooks that are always removed, and measured honestly.

torch and transformers are imported here only; nothing outside this package
(and the worker that runs it) imports them.
"""
