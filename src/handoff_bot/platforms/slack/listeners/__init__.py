"""Thin Slack listeners: verify/ack, decode, one service call, show the outcome."""
