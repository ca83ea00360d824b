"""Email intake: raw messages parsed into what becomes (or, for bounces and auto-replies, does not
become) a contact."""

from handoff_bot.intake.email.parse import ParsedMail, classify, parse_mail

__all__ = ["ParsedMail", "classify", "parse_mail"]
