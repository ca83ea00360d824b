"""The Slack app manifest with this installation's request URLs (or Socket Mode) filled in."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PLACEHOLDER = "https://bot.example.com"


def manifest_text() -> str:
    """manifests/slack/manifest.yaml: shipped inside the wheel, or read from a source checkout."""
    packaged = resources.files("handoff_bot").joinpath("manifests/slack/manifest.yaml")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[4] / "manifests" / "slack" / "manifest.yaml").read_text("utf-8")


def render(url: str | None, *, socket_mode: bool = False) -> str:
    """HTTP mode needs the public base URL; Socket Mode drops every request URL instead."""
    text = manifest_text()
    if socket_mode:
        kept = [line for line in text.splitlines() if not line.strip().startswith(("url:", "request_url:"))]
        return "\n".join(kept).replace("socket_mode_enabled: false", "socket_mode_enabled: true") + "\n"
    if not url or not url.startswith("https://"):
        raise ValueError("Slack needs a public https:// URL (or use Socket Mode)")
    return text.replace(PLACEHOLDER, url.rstrip("/"))
