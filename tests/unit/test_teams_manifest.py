"""The Teams app package: valid against the official manifest schema, the bot id filled in, icons right."""

from __future__ import annotations

import importlib.util
import io
import json
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from handoff_bot import cli
from handoff_bot.platforms.teams import manifest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "teams"
APP_ID = "1b2c3d4e-1111-2222-3333-444455556666"


def _validator(name: str) -> jsonschema.Draft4Validator:
    # No check_schema: the official schema uses a `\p{L}` pattern (for `extensions`, which we do not use)
    # that Python's re cannot compile; validation only compiles the patterns it meets.
    schema = json.loads((FIXTURES / name).read_text("utf-8"))
    return jsonschema.Draft4Validator(schema)


MANIFEST_SCHEMA = _validator("MicrosoftTeams.v1.24.schema.json")
LOCALIZATION_SCHEMA = _validator("MicrosoftTeams.Localization.v1.24.schema.json")


def errors(validator: jsonschema.Draft4Validator, doc: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def test_the_template_and_a_rendered_manifest_are_valid() -> None:
    assert errors(MANIFEST_SCHEMA, manifest.template()) == []
    rendered = manifest.render(APP_ID, url="https://handoff.bakkerij.nl/bot", version="1.4.0")
    assert errors(MANIFEST_SCHEMA, rendered) == []
    assert rendered["manifestVersion"] == "1.24"
    assert rendered["$schema"].endswith("/v1.24/MicrosoftTeams.schema.json")


def test_the_schema_check_would_catch_a_broken_manifest() -> None:
    broken = manifest.render(APP_ID)
    broken["bots"][0]["scopes"].append("everywhere")
    del broken["developer"]["privacyUrl"]
    assert len(errors(MANIFEST_SCHEMA, broken)) == 2


def test_the_bot_is_the_app_in_team_and_personal_scope_with_its_commands() -> None:
    rendered = manifest.render(APP_ID)
    (bot,) = rendered["bots"]
    assert rendered["id"] == bot["botId"] == rendered["composeExtensions"][0]["botId"] == APP_ID
    assert set(bot["scopes"]) == {"team", "personal"}
    titles = {tuple(c["scopes"]): [x["title"] for x in c["commands"]] for c in bot["commandLists"]}
    assert titles[("team",)] == [
        "ask",
        "use this channel",
        "my contacts",
        "open contacts",
        "log a contact",
        "help",
    ]
    assert titles[("personal",)] == ["my contacts", "open contacts", "log a contact", "help"]
    (command,) = rendered["composeExtensions"][0]["commands"]
    assert command["id"] == "logContact" and command["fetchTask"] is True and "message" in command["context"]
    assert "webApplicationInfo" not in rendered  # Graph is read with application permissions, no SSO
    assert APP_ID not in json.dumps(manifest.template())


def test_url_fills_valid_domains_and_developer_links_and_ids_are_separate_when_asked() -> None:
    package_id = "9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff"
    rendered = manifest.render(APP_ID, package_id=package_id, url="https://handoff.bakkerij.nl:8443/x")
    assert rendered["id"] == package_id and rendered["bots"][0]["botId"] == APP_ID
    assert rendered["validDomains"] == ["handoff.bakkerij.nl"]
    assert rendered["developer"]["privacyUrl"] == "https://handoff.bakkerij.nl:8443/privacy"
    assert manifest.render(APP_ID)["validDomains"] == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"app_id": "not-a-guid"}, "--app-id"),
        ({"app_id": manifest.PLACEHOLDER_ID}, "placeholder"),
        ({"app_id": APP_ID, "package_id": "x"}, "--package-id"),
        ({"app_id": APP_ID, "url": "http://insecure.example"}, "--url"),
        ({"app_id": APP_ID, "version": "v2"}, "--version"),
    ],
)
def test_bad_options_are_refused_with_a_clear_message(options: dict[str, str], message: str) -> None:
    app_id = options.pop("app_id")
    with pytest.raises(ValueError, match=message):
        manifest.render(app_id, **options)


def test_the_dutch_strings_are_valid_and_translate_every_text() -> None:
    nl = json.loads((ROOT / "manifests" / "teams" / "nl.json").read_text("utf-8"))
    assert errors(LOCALIZATION_SCHEMA, nl) == []
    rendered = manifest.render(APP_ID)
    assert rendered["localizationInfo"]["additionalLanguages"] == [
        {"languageTag": "nl-nl", "file": "nl.json"}
    ]

    def resolve(path: str) -> Any:
        node: Any = rendered
        for name, index in re.findall(r"([A-Za-z]+)(?:\[(\d+)\])?", path):
            node = node[name]
            if index:
                node = node[int(index)]
        return node

    keys = [k for k in nl if k != "$schema"]
    assert all(isinstance(resolve(k), str) for k in keys)  # every key names a text that exists
    titles = [
        f"bots[0].commandLists[{i}].commands[{j}].{field}"
        for i, c in enumerate(rendered["bots"][0]["commandLists"])
        for j in range(len(c["commands"]))
        for field in ("title", "description")
    ]
    assert set(titles) <= set(keys)


def _png(data: bytes) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """Width, height and RGBA pixels of an 8-bit RGBA, non-interlaced PNG with filter 0 rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, colour, interlace) == (8, 6, 0)  # RGBA: the outline needs its alpha channel
    raw = zlib.decompress(idat)
    stride = width * 4 + 1
    pixels = []
    for y in range(height):
        row = raw[y * stride : (y + 1) * stride]
        assert row[0] == 0
        pixels += [tuple(row[1 + x * 4 : 5 + x * 4]) for x in range(width)]
    return width, height, pixels  # type: ignore[return-value]


def test_icons_have_teams_sizes_and_the_outline_is_white_on_transparent() -> None:
    folder = ROOT / "manifests" / "teams"
    width, height, pixels = _png((folder / "color.png").read_bytes())
    assert (width, height) == (192, 192) and all(p[3] == 255 for p in pixels)
    width, height, pixels = _png((folder / "outline.png").read_bytes())
    assert (width, height) == (32, 32)
    assert sum(p[3] == 0 for p in pixels) > 300  # a transparent background
    assert sum(p[3] == 255 for p in pixels) > 100  # and a visible glyph
    assert all(p[:3] == (255, 255, 255) for p in pixels if p[3])  # white only


def test_the_committed_icons_are_what_the_script_draws() -> None:
    spec = importlib.util.spec_from_file_location("teams_icons", ROOT / "tools" / "teams_icons.py")
    assert spec is not None and spec.loader is not None
    teams_icons = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(teams_icons)
    for name, data in teams_icons.icons().items():
        assert (ROOT / "manifests" / "teams" / name).read_bytes() == data, name


def test_the_package_holds_the_manifest_and_icons_at_its_root() -> None:
    data = manifest.package(manifest.render(APP_ID))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == sorted(manifest.PACKAGE_FILES)
        inside = json.loads(archive.read("manifest.json"))
        assert errors(MANIFEST_SCHEMA, inside) == []
        assert inside["bots"][0]["botId"] == APP_ID
        assert archive.read("color.png") == (ROOT / "manifests" / "teams" / "color.png").read_bytes()
        # Every file the manifest names is in the package.
        named = [inside["icons"]["color"], inside["icons"]["outline"]]
        named += [x["file"] for x in inside["localizationInfo"]["additionalLanguages"]]
        assert set(named) <= set(archive.namelist())


def test_cli_writes_the_package(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "handoff-teams.zip"
    assert cli.main(["manifest", "teams", "--app-id", APP_ID, "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    with zipfile.ZipFile(out) as archive:
        assert json.loads(archive.read("manifest.json"))["bots"][0]["botId"] == APP_ID


def test_cli_refuses_a_bad_app_id_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "handoff-teams.zip"
    assert cli.main(["manifest", "teams", "--app-id", "my-bot", "--out", str(out)]) == 2
    assert "--app-id" in capsys.readouterr().err
    assert not out.exists()
    missing = tmp_path / "no" / "such" / "dir.zip"
    assert cli.main(["manifest", "teams", "--app-id", APP_ID, "--out", str(missing)]) == 1
    assert "cannot write" in capsys.readouterr().err


def test_cli_as_a_process_from_another_directory(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "handoff_bot.cli", "manifest", "teams", "--app-id", APP_ID, "--out", "t.zip"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert zipfile.ZipFile(tmp_path / "t.zip").namelist()
