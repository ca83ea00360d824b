"""Slack: bolt app, listeners, action codec, Block Kit renderer, Web API client, outbox delivery."""
