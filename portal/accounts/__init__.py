"""Users, logging in and out, passwords and language preference."""
