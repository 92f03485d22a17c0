"""Metrics and visualisation."""
