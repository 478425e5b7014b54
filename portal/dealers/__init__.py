"""Dealers, territories and periods: the directory every other area refers to."""
