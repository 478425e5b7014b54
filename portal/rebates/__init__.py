"""Targets, sales and rebates: how a dealer stands against its target and what it has earned."""
