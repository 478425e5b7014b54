"""Disputes between dealers and the mediation console."""
