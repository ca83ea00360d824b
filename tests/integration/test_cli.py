"""The command line, in-process and as a real subprocess, against a SQLite file."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from handoff_bot.cli import main, setting_names
from handoff_bot.clock import ManualClock
from handoff_bot.domain.contacts import Channel
from handoff_bot.services.commands import (
    AnswerQuestion,
    AskQuestion,
    ClaimContact,
    CustomerDetails,
    EnsurePerson,
    ReceiveContact,
    ResolveContact,
)
from handoff_bot.services.contacts import claim_contact, receive_contact, resolve_contact
from handoff_bot.services.people import ensure_person
from handoff_bot.services.privacy import erase_customer
from handoff_bot.services.questions import answer_question, ask_question
from handoff_bot.storage.db import create_engine, session_factory
from handoff_bot.storage.migrate import head_revision, upgrade_database
from handoff_bot.storage.models import OutboxRow
from handoff_bot.storage.uow import SqlUnitOfWorkFactory

BIN = Path(sys.executable).with_name("handoff-bot")
HEADER = "name,email,location,slack_user_id,teams_aad_object_id\n"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """main() configures the root logger as a process would; give the next test its own back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    for name in setting_names():  # only what each test sets
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HANDOFF_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return url


async def seed(url: str) -> None:
    """#1 Anna by phone (claimed by Marieke, a question answered), #2 Kees by email (open),
    #3 Joop in July (resolved), #4 Anna again (open, with #1 as history)."""
    engine = create_engine(url)
    await upgrade_database(engine)
    sessions = session_factory(engine)
    clock = ManualClock(datetime(2026, 11, 23, 9, 42, tzinfo=UTC))
    uow = SqlUnitOfWorkFactory(sessions, platforms=("slack",), clock=clock)
    marieke = await ensure_person(EnsurePerson("Marieke", "marieke@example.org"), uow=uow)
    piet = await ensure_person(EnsurePerson("Piet", "piet@example.org"), uow=uow)
    assert marieke.id is not None and piet.id is not None

    async def receive(channel: Channel, customer: CustomerDetails, subject: str, **kw: object) -> int:
        received = await receive_contact(
            ReceiveContact(channel, "api", customer, subject=subject, **kw),  # type: ignore[arg-type]
            uow=uow,
            clock=clock,
        )
        assert received.contact.id is not None
        return received.contact.id

    anna = CustomerDetails(name="Anna Jansen", phone="06-12345678")
    first = await receive(Channel.PHONE, anna, "Oven broke down", body="Since this morning.")
    clock.advance(minutes=5)
    await receive(Channel.EMAIL, CustomerDetails(email="kees@example.org"), "Quote please")
    await claim_contact(ClaimContact(first, marieke.id), uow=uow, clock=clock)
    question = await ask_question(
        AskQuestion(first, marieke.id, piet.id, "Is it under warranty?"), uow=uow, clock=clock
    )
    assert question.id is not None
    await answer_question(AnswerQuestion(question.id, piet.id, "Yes, until March"), uow=uow, clock=clock)
    summer = await receive(
        Channel.WEB,
        CustomerDetails(name="Joop"),
        "Opening hours",
        received_at=datetime(2026, 7, 13, 9, 42, tzinfo=UTC),
    )
    await claim_contact(ClaimContact(summer, piet.id), uow=uow, clock=clock)
    await resolve_contact(ResolveContact(summer, piet.id, "Told them"), uow=uow, clock=clock)
    clock.advance(minutes=30)
    await receive(Channel.WALK_IN, anna, "Picked up the oven")
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


def cells(line: str) -> list[str]:
    """The columns of a table line (columns are at least two spaces apart)."""
    return re.split(r" {2,}", line.strip())


def test_contacts_list_shows_local_times_and_who_has_what(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(seed(db_url))
    code, out, _ = run(capsys, "contacts", "list")
    lines = out.splitlines()
    assert code == 0
    assert cells(lines[0]) == ["ID", "Received", "Channel", "Customer", "Subject", "Status"]
    assert [cells(line) for line in lines[1:]] == [
        ["4", "Mon 23 Nov 11:17", "Walk-in", "Anna Jansen", "Picked up the oven", "open"],
        ["3", "Mon 13 Jul 11:42", "Website", "Joop", "Opening hours", "resolved by Piet"],  # summer time
        ["2", "Mon 23 Nov 10:47", "Email", "kees@example.org", "Quote please", "open"],
        ["1", "Mon 23 Nov 10:42", "Phone", "Anna Jansen", "Oven broke down", "claimed by Marieke"],
    ]
    code, out, _ = run(capsys, "contacts", "list", "--status", "claimed")
    assert code == 0 and [cells(line)[0] for line in out.splitlines()[1:]] == ["1"]
    code, out, _ = run(capsys, "contacts", "list", "--limit", "2")
    assert out.splitlines()[-1] == "More: --before 3"
    code, out, _ = run(capsys, "contacts", "list", "--before", "3")
    assert [cells(line)[0] for line in out.splitlines()[1:]] == ["2", "1"]


def test_times_follow_the_configured_zone(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(seed(db_url))
    monkeypatch.setenv("HANDOFF_TIMEZONE", "Europe/London")
    _, out, _ = run(capsys, "contacts", "list")
    assert "Mon 13 Jul 10:42" in out and "Mon 23 Nov 09:42" in out


def test_contacts_show_tells_the_whole_story(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(seed(db_url))
    code, out, _ = run(capsys, "contacts", "show", "1")
    assert code == 0
    lines = out.splitlines()
    assert lines[:3] == ["Contact #1 — claimed by Marieke", "Customer: Anna Jansen", "  Phone: +31612345678"]
    assert "Received: Mon 23 Nov 10:42 (Phone, Source: api)" in lines
    assert "Since this morning." in lines and "First contact from this customer" in lines
    assert (
        "  Marieke → Piet: Is it under warranty?" in lines and "    answer by Piet: Yes, until March" in lines
    )
    timeline = lines[lines.index("Timeline:") + 1 :]
    assert timeline == [
        "  Mon 23 Nov 10:42  received via Phone",
        "  Mon 23 Nov 10:47  claimed by Marieke",
        "  Mon 23 Nov 10:47  Marieke asked Piet a question",
        "  Mon 23 Nov 10:47  Piet answered a question",
    ]
    code, out, _ = run(capsys, "contacts", "show", "4")
    lines = out.splitlines()
    assert lines[lines.index("Subject: Picked up the oven") + 1] == "History:"  # no empty body
    assert cells(lines[lines.index("History:") + 1]) == [
        "#1",
        "Mon 23 Nov 10:42",
        "Phone",
        "claimed by Marieke",
    ]
    code, _, err = run(capsys, "contacts", "show", "99")
    assert code == 1 and err.strip() == "Contact 99 does not exist."


def test_an_erased_contact_shows_why_its_data_is_gone(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(seed(db_url))

    async def erase() -> None:
        engine = create_engine(db_url)
        clock = ManualClock(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
        uow = SqlUnitOfWorkFactory(session_factory(engine), platforms=("slack",), clock=clock)
        await erase_customer(1, by="test", uow=uow, clock=clock)
        await engine.dispose()

    asyncio.run(erase())
    code, out, _ = run(capsys, "contacts", "show", "1")
    assert code == 0 and "Since this morning." not in out and "+31612345678" not in out
    assert out.splitlines()[-1] == "  Tue 24 Nov 09:00  Personal data removed at the customer's request."


def test_dutch_output(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(seed(db_url))
    monkeypatch.setenv("HANDOFF_LANGUAGE", "nl")
    code, out, _ = run(capsys, "contacts", "list")
    assert code == 0
    assert cells(out.splitlines()[0]) == ["ID", "Binnen", "Kanaal", "Klant", "Onderwerp", "Status"]
    assert cells(out.splitlines()[-1]) == [
        "1",
        "ma 23 nov 10:42",
        "Telefoon",
        "Anna Jansen",
        "Oven broke down",
        "opgepakt door Marieke",
    ]
    _, out, _ = run(capsys, "contacts", "show", "1")
    assert "Contact #1 — opgepakt door Marieke" in out and "  Telefoon: +31612345678" in out
    assert "  ma 23 nov 10:42  binnengekomen via Telefoon" in out and "Tijdlijn:" in out
    _, out, _ = run(capsys, "outbox", "list", "--dead")
    assert cells(out.splitlines()[0])[:4] == ["ID", "Soort", "Platform", "Status"]
    assert cells(out.splitlines()[1])[3] == "mislukt"
    code, _, err = run(capsys, "contacts", "show", "99")
    assert err.strip() == "Contact 99 bestaat niet."


def test_outbox_list_and_retry(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(seed(db_url))
    code, out, _ = run(capsys, "outbox", "list", "--dead")
    assert code == 0 and len(out.splitlines()) == 2
    row = cells(out.splitlines()[1])
    assert row[1:5] == ["card.post", "slack", "dead", "10"]
    assert row[-1] == "slack chat.postMessage failed with not_in_channel"
    code, out, _ = run(capsys, "outbox", "retry", row[0])
    assert code == 0 and out.strip() == f"Outbox row {row[0]} will be delivered again."
    code, out, _ = run(capsys, "outbox", "list", "--dead")
    assert out.strip() == "No dead-lettered deliveries."
    _, out, _ = run(capsys, "outbox", "list")
    assert [cells(line)[3] for line in out.splitlines()[1:]].count("pending") >= 1
    code, _, err = run(capsys, "outbox", "retry", "12345")
    assert code == 1 and err.strip() == "There is no pending or dead outbox row 12345."


def test_people_import_reports_bad_rows_by_line_and_keeps_going(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people = tmp_path / "people.csv"
    people.write_text(
        HEADER + "Marieke,Marieke@Example.org,Utrecht,U0MARIEKE,\n"
        ",nobody@example.org,,,\n"
        '"Piet\nPietersen",not-an-email,,,\n'  # one record over two lines: reported at its first
        ",,,,\n"  # blank: nothing to import, nothing wrong
        "Joop,joop@example.org,,,7f3e-aad\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "people", "import", str(people))
    assert code == 1
    assert out.strip() == "2 created, 0 updated, 0 unchanged, 2 skipped"
    assert err.splitlines() == [
        "line 3 skipped: the name is empty",
        "line 4 skipped: the email address 'not-an-email' is not valid",
    ]
    # Matched by Slack id, then by email; only real changes count as updates.
    people.write_text(HEADER + "Marieke,,Amersfoort,U0MARIEKE,\nJoop,JOOP@example.org,,,\n", encoding="utf-8")
    code, out, err = run(capsys, "people", "import", str(people))
    assert (code, out.strip(), err) == (0, "0 created, 1 updated, 1 unchanged, 0 skipped", "")


def test_people_import_takes_semicolons_and_few_columns(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people = tmp_path / "export.csv"
    people.write_bytes("\ufeffName;Slack_User_ID\nAnnelies;U0ANNELIES\nJoël;U0JOEL\n".encode())
    code, out, _ = run(capsys, "people", "import", str(people))
    assert (code, out.strip()) == (0, "2 created, 0 updated, 0 unchanged, 0 skipped")


def test_people_import_refuses_a_file_it_cannot_use(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("name,e-mail\nMarieke,marieke@example.org\n", encoding="utf-8")
    code, out, err = run(capsys, "people", "import", str(wrong))
    assert code == 1 and out == ""
    assert err.strip().startswith("unknown column 'e-mail' in the first line; the columns are: name,email,")
    wrong.write_text("email\nmarieke@example.org\n", encoding="utf-8")
    code, _, err = run(capsys, "people", "import", str(wrong))
    assert code == 1 and "name is required" in err
    wrong.write_bytes(HEADER.encode() + "Jo\xebl,,,,\n".encode("latin-1"))
    code, _, err = run(capsys, "people", "import", str(wrong))
    assert code == 1 and err.strip() == f'{wrong} is not UTF-8 text; save it as "CSV UTF-8"'
    code, _, err = run(capsys, "people", "import", str(tmp_path / "missing.csv"))
    assert code == 1 and err.strip() == f"cannot read {tmp_path / 'missing.csv'}: No such file or directory"


@pytest.mark.parametrize(
    ("name", "value", "variable"),
    [
        ("HANDOFF_TIMEZONE", "Mars/Olympus", "HANDOFF_TIMEZONE"),
        ("HANDOFF_INTAKE_TOKENS", "crm=short", "HANDOFF_INTAKE_TOKENS"),
        ("HANDOFF_INTAKE_TOKENS", "no-equals-sign-secret-value", "HANDOFF_INTAKE_TOKENS"),
        ("HANDOFF_LANGUAGE", "fr", "HANDOFF_LANGUAGE"),
        ("HANDOFF_OUTBOX_MAX_ATTEMPTS", "many", "HANDOFF_OUTBOX_MAX_ATTEMPTS"),
        ("HANDOFF_DATABASE_URL", "garbage-secret-value", "HANDOFF_DATABASE_URL"),
        ("HANDOFF_DATABASE_URL", "sqlite:///sync-driver-secret-value.db", "HANDOFF_DATABASE_URL"),
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
    for command in (["contacts", "list"], ["serve"], ["worker"]):
        code, out, err = run(capsys, *command)
        assert code == 2 and out == ""
        assert len(err.strip().splitlines()) == 1 and f"invalid setting {variable}:" in err
        assert "secret-value" not in err


def test_an_unreachable_database_is_one_line_without_the_password(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HANDOFF_DATABASE_URL", f"postgresql+asyncpg://bot:hunter2@127.0.0.1:{port}/handoff")
    code, out, err = run(capsys, "contacts", "list")
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("handoff-bot: cannot use the database in HANDOFF_DATABASE_URL:")
    assert "hunter2" not in err


def test_without_auto_migrate_an_old_database_says_what_to_run(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HANDOFF_AUTO_MIGRATE", "false")
    code, _, err = run(capsys, "contacts", "list")
    assert code == 1 and "run `handoff-bot db upgrade`" in err and len(err.strip().splitlines()) == 1
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0 and out.strip() == f"The database is at revision {head_revision()}."
    code, out, _ = run(capsys, "contacts", "list")
    assert code == 0 and out.strip() == "No contacts."


def test_serve_on_a_taken_port_says_so_in_one_line(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code, _, err = run(capsys, "serve", "--port", str(taken.getsockname()[1]))
    ours = [line for line in err.splitlines() if line.startswith("handoff-bot:")]
    assert code == 1 and len(ours) == 1
    assert ours[0].startswith("handoff-bot: cannot start:") and "address already in use" in ours[0]
    assert "slack: not configured (SLACK_BOT_TOKEN is not set)" in err  # the start-up log came first


def test_a_bad_limit_is_a_short_usage_error(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["contacts", "list", "--limit", "0"])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "expected a whole number from 1 to 1000, got '0'" in err
    assert len(err) < 400


def help_text(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--help"])
    assert stopped.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines anywhere


def test_help_names_the_settings_each_command_reads(capsys: pytest.CaptureFixture[str]) -> None:
    assert "HANDOFF_DATABASE_URL" in help_text(capsys)
    for server in ("serve", "worker"):
        text = help_text(capsys, server)
        assert [name for name in setting_names() if name not in text] == []
    for command in (
        ["db"],
        ["db", "upgrade"],
        ["contacts", "list"],
        ["contacts", "show"],
        ["outbox", "list"],
        ["outbox", "retry"],
        ["people", "import"],
    ):
        assert "HANDOFF_DATABASE_URL" in help_text(capsys, *command), command


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
    dutch = subprocess.run(
        [str(BIN), "contacts", "list"],
        capture_output=True,
        text=True,
        env={**env, "HANDOFF_LANGUAGE": "nl"},
        check=False,
        cwd=tmp_path,
    )
    assert dutch.returncode == 0 and dutch.stdout.strip() == "Geen contacten."
