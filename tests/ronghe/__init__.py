"""Tests of the ronghe command line."""
