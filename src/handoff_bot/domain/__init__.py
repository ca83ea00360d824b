"""Pure domain model: no I/O, no framework imports (a test enforces this)."""
