"""Chat platforms (Slack, Teams): neutral card views, renderers, listeners and clients."""
