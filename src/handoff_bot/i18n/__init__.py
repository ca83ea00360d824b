"""The message catalogue: every user-facing text, in English and Dutch."""
