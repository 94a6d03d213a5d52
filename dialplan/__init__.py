"""Numbering plan: value types, compiler and routing engine (pure), and storage (I/O)."""
