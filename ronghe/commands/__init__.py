"""Subcommands of ``ronghe`` besides ``serve``; each module offers ``add_parser``."""
