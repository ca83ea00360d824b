"""Use cases. Each opens one unit of work, applies domain rules and enqueues side effects."""
