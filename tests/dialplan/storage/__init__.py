"""Tests of the numbering-plan storage: migrations, services, CSV, demo plan."""
