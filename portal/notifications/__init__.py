"""Telling people where things stand: in-app notifications, email through an outbox, background jobs."""
