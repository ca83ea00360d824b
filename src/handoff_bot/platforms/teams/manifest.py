"""The Teams app package: manifests/teams/manifest.json with this bot's app id, the icons, the Dutch strings.

No webApplicationInfo: the bot reads Graph with its own application permissions (client credentials,
admin consent in Entra), not with a user's token, so Teams needs no SSO resource for it.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"
PLACEHOLDER_URL = "https://bot.example.com"
PACKAGE_FILES = ("manifest.json", "color.png", "outline.png", "nl.json")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


def source() -> Traversable | Path:
    """manifests/teams: shipped inside the wheel, or read from a source checkout."""
    packaged = resources.files("handoff_bot").joinpath("manifests/teams")
    if packaged.joinpath("manifest.json").is_file():
        return packaged
    return Path(__file__).resolve().parents[4] / "manifests" / "teams"


def template() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(source().joinpath("manifest.json").read_bytes())
    return data


def render(
    app_id: str,
    *,
    package_id: str | None = None,
    url: str | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    """The manifest for bot `app_id` (the Entra app id of the Azure Bot); `url` the bot's public base URL."""
    if not _GUID.match(app_id or ""):
        raise ValueError("--app-id must be the bot's Microsoft App ID (a GUID such as 1b2c…-…)")
    if app_id == PLACEHOLDER_ID:
        raise ValueError("--app-id is the placeholder id; use your Azure Bot's Microsoft App ID")
    if package_id is not None and not _GUID.match(package_id):
        raise ValueError("--package-id must be a GUID")
    if version is not None and not _SEMVER.match(version):
        raise ValueError("--version must look like 1.2.3")
    manifest = template()
    manifest["id"] = package_id or app_id
    for bot in manifest["bots"]:
        bot["botId"] = app_id
    for extension in manifest.get("composeExtensions", []):
        extension["botId"] = app_id
    if version:
        manifest["version"] = version
    if url:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("--url must be the bot's public https:// URL")
        base = f"https://{parts.netloc}"
        developer = manifest["developer"]
        for key in ("websiteUrl", "privacyUrl", "termsOfUseUrl"):
            developer[key] = developer[key].replace(PLACEHOLDER_URL, base)
        manifest["validDomains"] = [parts.hostname]
    return manifest


def package(manifest: dict[str, Any]) -> bytes:
    """The app package: a zip with manifest.json, both icons and nl.json at its root."""
    files = source()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        for name in PACKAGE_FILES[1:]:
            archive.writestr(name, files.joinpath(name).read_bytes())
    return buffer.getvalue()


def write_package(out: Path, app_id: str, **options: str | None) -> Path:
    """Render and write the zip; nothing is written when an option is wrong."""
    data = package(render(app_id, **options))
    out.write_bytes(data)
    return out
