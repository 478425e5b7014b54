"""The integration API: the door through which the manufacturer's ERP talks to the portal with a client's token."""
