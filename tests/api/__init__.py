"""Tests of the admin REST API, over HTTP against SQLite and PostgreSQL."""
