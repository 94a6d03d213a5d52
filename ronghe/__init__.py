"""The ronghe command line: composition root of the platform."""
