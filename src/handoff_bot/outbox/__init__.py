"""Delivery of outbox rows (chat side effects and timers) by workers."""
