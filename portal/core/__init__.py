"""What every role shares: the entry point that sends each to its home, the health check, the admin overview."""
