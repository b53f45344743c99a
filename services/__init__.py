"""Use cases: one module per thing a user does (log a release, fit, grade, ...).

A service owns its transactions, takes the clock and the engine it needs, orchestrates
`registry` (Session-level schema operations) and `models` (pure science), and returns a
typed result. The CLI parses, calls one service and renders; a web page or a Python
user calls the same functions. See docs/architecture.md.
"""
