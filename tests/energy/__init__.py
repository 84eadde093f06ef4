"""Tests of harness.energy: arithmetic, the sampling monitor, each backend, the factory."""
