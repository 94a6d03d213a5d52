"""Tests of the plan and apikey subcommands."""
