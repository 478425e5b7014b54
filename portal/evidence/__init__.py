"""Evidence files: validated by content, stored under random keys on a local folder or S3, served safely."""
