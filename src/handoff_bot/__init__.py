"""handoff-bot: the team chat as the receptionist's desk."""

__version__ = "0.1.0"
