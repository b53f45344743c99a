"""The phasewatch registry: the database and the domain operations on it.

Everything that reads or writes the database lives here. Each public operation
takes a SQLAlchemy ``Session`` and runs inside the caller's transaction, so a
command is one transaction: it either happens whole or leaves the database as
it was.
"""
