"""The command line, in-process and as a real subprocess, against a SQLite file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from handoff_bot.cli import main
from handoff_bot.clock import ManualClock
from handoff_bot.domain.contacts import Channel
from handoff_bot.services.commands import ClaimContact, CustomerDetails, EnsurePerson, ReceiveContact
from handoff_bot.services.contacts import claim_contact, receive_contact
from handoff_bot.services.people import ensure_person
from handoff_bot.storage.db import create_engine, session_factory
from handoff_bot.storage.migrate import head_revision, upgrade_database
from handoff_bot.storage.models import OutboxRow
from handoff_bot.storage.uow import SqlUnitOfWorkFactory

BIN = Path(sys.executable).with_name("handoff-bot")


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("HANDOFF_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return url


async def seed(url: str) -> None:
    engine = create_engine(url)
    await upgrade_database(engine)
    sessions = session_factory(engine)
    clock = ManualClock(datetime(2026, 11, 23, 9, 42, tzinfo=UTC))
    uow = SqlUnitOfWorkFactory(sessions, platforms=("slack",), clock=clock)
    marieke = await ensure_person(EnsurePerson("Marieke", "marieke@example.org"), uow=uow)
    first = await receive_contact(
        ReceiveContact(
            Channel.PHONE,
            "api",
            CustomerDetails(name="Anna Jansen", phone="06-12345678"),
            subject="Oven broke down",
            body="Since this morning.",
        ),
        uow=uow,
        clock=clock,
    )
    clock.advance(minutes=5)
    await receive_contact(
        ReceiveContact(
            Channel.EMAIL, "api", CustomerDetails(email="kees@example.org"), subject="Quote please"
        ),
        uow=uow,
        clock=clock,
    )
    assert first.contact.id is not None and marieke.id is not None
    await claim_contact(ClaimContact(first.contact.id, marieke.id), uow=uow, clock=clock)
    async with sessions() as s, s.begin():
        s.add(
            OutboxRow(
                kind="card.post",
                platform="slack",
                payload={"contact_id": 1},
                key="k",
                status="dead",
                due_at=clock.now(),
                attempts=10,
                last_error="slack chat.postMessage failed with not_in_channel",
                created_at=clock.now(),
            )
        )
    await engine.dispose()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_contacts_list_and_show_in_local_time(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(seed(db_url))
    code, out, _ = run(capsys, "contacts", "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["ID", "Received", "Channel", "Customer", "Subject", "Status"]
    assert "Mon 23 Nov 10:47" in lines[1] and "kees@example.org" in lines[1] and "open" in lines[1]
    assert "Mon 23 Nov 10:42" in lines[2] and "Anna Jansen" in lines[2] and "claimed" in lines[2]
    code, out, _ = run(capsys, "contacts", "list", "--status", "claimed")
    assert code == 0 and len(out.splitlines()) == 2
    code, out, _ = run(capsys, "contacts", "show", "1")
    assert code == 0
    assert "Contact #1 — claimed" in out and "phone: +31612345678" in out and "Since this morning." in out
    assert "Mon 23 Nov 10:42  received via Phone" in out and "claimed by Marieke" in out
    code, _, err = run(capsys, "contacts", "show", "99")
    assert code == 1 and "Contact 99 does not exist." in err


def test_dutch_output(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(seed(db_url))
    monkeypatch.setenv("HANDOFF_LANGUAGE", "nl")
    code, out, _ = run(capsys, "contacts", "list")
    assert code == 0
    assert out.splitlines()[0].split() == ["ID", "Binnen", "Kanaal", "Klant", "Onderwerp", "Status"]
    assert "ma 23 nov 10:42" in out and "opgepakt" in out


def test_outbox_list_and_retry(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(seed(db_url))
    code, out, _ = run(capsys, "outbox", "list", "--dead")
    assert code == 0 and "not_in_channel" in out and out.count("card.post") == 1
    dead_id = out.splitlines()[1].split()[0]
    code, out, _ = run(capsys, "outbox", "retry", dead_id)
    assert code == 0 and out.strip() == f"Outbox row {dead_id} will be delivered again."
    code, out, _ = run(capsys, "outbox", "list", "--dead")
    assert out.strip() == "No dead-lettered deliveries."
    code, _, err = run(capsys, "outbox", "retry", "12345")
    assert code == 1 and "12345" in err


def test_people_import_reports_bad_rows_and_keeps_going(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "people.csv"
    csv.write_text(
        "name,email,location,slack_user_id,teams_aad_object_id\n"
        "Marieke,Marieke@Example.org,Utrecht,U0MARIEKE,\n"
        ",nobody@example.org,,,\n"
        "Piet,not-an-email,,,\n"
        "Joop,joop@example.org,,,7f3e-aad\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "people", "import", str(csv))
    assert code == 1
    assert out.strip() == "2 created, 0 updated, 2 failed"
    assert (
        "line 3: the name is empty" in err and "line 4: the email address 'not-an-email' is not valid" in err
    )
    csv.write_text(
        "name,email,location,slack_user_id,teams_aad_object_id\nMarieke,marieke@example.org,Amersfoort,,\n"
    )
    code, out, _ = run(capsys, "people", "import", str(csv))
    assert code == 0 and out.strip() == "0 created, 1 updated, 0 failed"
    code, _, err = run(capsys, "people", "import", str(tmp_path / "missing.csv"))
    assert code == 1 and "cannot read" in err


@pytest.mark.parametrize(
    ("name", "value", "variable"),
    [
        ("HANDOFF_TIMEZONE", "Mars/Olympus", "HANDOFF_TIMEZONE"),
        ("HANDOFF_INTAKE_TOKENS", "crm=short", "HANDOFF_INTAKE_TOKENS"),
        ("HANDOFF_INTAKE_TOKENS", "no-equals-sign-secret-value", "HANDOFF_INTAKE_TOKENS"),
        ("HANDOFF_LANGUAGE", "fr", "HANDOFF_LANGUAGE"),
        ("HANDOFF_OUTBOX_MAX_ATTEMPTS", "many", "HANDOFF_OUTBOX_MAX_ATTEMPTS"),
    ],
)
def test_a_bad_setting_stops_with_one_line_naming_it(
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
    variable: str,
) -> None:
    monkeypatch.setenv(name, value)
    code, out, err = run(capsys, "contacts", "list")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and f"invalid setting {variable}:" in err
    assert "no-equals-sign-secret-value" not in err


def test_real_subprocess_help_upgrade_and_list(db_url: str, tmp_path: Path) -> None:
    env = {"HANDOFF_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"}
    helped = subprocess.run([str(BIN), "--help"], capture_output=True, text=True, env=env, check=False)
    assert helped.returncode == 0 and "serve" in helped.stdout and "worker" in helped.stdout
    serve_help = subprocess.run(
        [str(BIN), "serve", "--help"], capture_output=True, text=True, env=env, check=False
    )
    assert "HANDOFF_INTAKE_TOKENS" in serve_help.stdout and "SLACK_BOT_TOKEN" in serve_help.stdout
    upgraded = subprocess.run(
        [str(BIN), "db", "upgrade"], capture_output=True, text=True, env=env, check=False, cwd=tmp_path
    )
    assert upgraded.returncode == 0
    assert upgraded.stdout.strip() == f"The database is at revision {head_revision()}."
    listed = subprocess.run(
        [str(BIN), "contacts", "list"], capture_output=True, text=True, env=env, check=False, cwd=tmp_path
    )
    assert listed.returncode == 0 and listed.stdout.strip() == "No contacts."
