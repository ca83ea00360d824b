"""Ways contacts come in: the HTTP API (and, later, email)."""
