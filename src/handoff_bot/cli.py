"""`handoff-bot`: serve, worker, db, contacts, outbox, people, manifest."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import AliasChoices
from sqlalchemy.exc import SQLAlchemyError

from handoff_bot.config import Settings, SettingsError, load_settings
from handoff_bot.domain.contacts import Contact, ContactStatus
from handoff_bot.domain.errors import DomainError, InvalidIdentity, NotFound
from handoff_bot.domain.events import EventKind
from handoff_bot.i18n.catalogue import Catalogue, format_datetime
from handoff_bot.loop import new_event_loop

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from handoff_bot.domain.people import Person
    from handoff_bot.storage.uow import SqlUnitOfWork, SqlUnitOfWorkFactory

    Storage = tuple[AsyncEngine, async_sessionmaker[AsyncSession], SqlUnitOfWorkFactory]

log = logging.getLogger("handoff_bot")
PEOPLE_COLUMNS = ("name", "email", "location", "slack_user_id", "teams_aad_object_id")
MAX_LIST = 1000


def setting_names() -> list[str]:
    """Every environment variable Settings reads, in declaration order."""
    names = []
    for info in Settings.model_fields.values():
        if isinstance(info.validation_alias, AliasChoices):
            names.append(str(info.validation_alias.choices[0]))
    return names


DB_ENV = (
    "Reads HANDOFF_DATABASE_URL (default sqlite+aiosqlite:///handoff.db), HANDOFF_LANGUAGE, "
    "HANDOFF_TIMEZONE and HANDOFF_AUTO_MIGRATE from the environment or a .env file."
)
ALL_ENV = "Reads every setting from the environment or a .env file: " + ", ".join(setting_names()) + "."
TOP_EPILOG = (
    "Settings come from the environment or a .env file in the current directory. Every command except "
    "`manifest` reads HANDOFF_DATABASE_URL (default sqlite+aiosqlite:///handoff.db), HANDOFF_LANGUAGE "
    "(en, nl) and HANDOFF_TIMEZONE; `serve` and `worker` read all settings (see `handoff-bot serve "
    "--help`). A malformed setting stops every command with exit code 2."
)


class DatabaseUnavailable(Exception):
    """The database in HANDOFF_DATABASE_URL cannot be opened; the message is one line, without the URL."""


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True
    )
    # aiohttp's access log would print every request line; keep it at WARNING unless debugging.
    quiet = logging.DEBUG if level == "DEBUG" else logging.WARNING
    for noisy in ("aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(quiet)


@dataclass
class Context:
    """What a command works with, built from settings inside the event loop and closed after."""

    settings: Settings
    catalogue: Catalogue

    @contextlib.asynccontextmanager
    async def storage(self, *, migrate: bool | None = None) -> AsyncIterator[Storage]:
        """Engine, sessions and units of work; migrates first if HANDOFF_AUTO_MIGRATE (or `migrate`)."""
        from handoff_bot.app import configured_platforms
        from handoff_bot.clock import SystemClock
        from handoff_bot.storage.db import create_engine, session_factory
        from handoff_bot.storage.uow import SqlUnitOfWorkFactory

        engine = create_engine(self.settings.database_url)
        try:
            await self._prepare(engine, self.settings.auto_migrate if migrate is None else migrate)
            sessions = session_factory(engine)
            uow = SqlUnitOfWorkFactory(
                sessions, platforms=configured_platforms(self.settings), clock=SystemClock()
            )
            yield engine, sessions, uow
        finally:
            await engine.dispose()

    async def _prepare(self, engine: AsyncEngine, migrate: bool) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        from handoff_bot.storage import migrate as migrations

        try:
            if migrate:
                await migrations.upgrade_database(engine)
                return
            # Not migrating: fail now with what to do, rather than later on a missing table.
            revision_of = getattr(migrations, "database_revision", None)
            if revision_of is None:
                async with engine.connect():
                    return
            revision = await revision_of(engine)
        except (OSError, SQLAlchemyError) as exc:
            raise DatabaseUnavailable(one_line(exc)) from exc
        if revision != migrations.head_revision():
            raise DatabaseUnavailable(self.catalogue.t("cli.db.outdated", revision=revision or "-"))

    def when(self, moment: datetime) -> str:
        return format_datetime(moment, self.settings.tz, self.catalogue.language)


def one_line(exc: BaseException) -> str:
    """The first line of an error, from the driver when SQLAlchemy wrapped it (its SQL is noise)."""
    from sqlalchemy.exc import DBAPIError

    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return _cut(lines[0], 200) if lines else type(cause).__name__


def check_database_url(url: str) -> bool:
    """Whether the URL parses and names an asyncio driver; says nothing about reaching it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        dialect = make_url(url).get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError):
        return False
    return bool(getattr(dialect, "is_async", False))


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# ---------------------------------------------------------------- commands


def cmd_serve(ctx: Context, args: argparse.Namespace) -> int:
    from aiohttp import web

    from handoff_bot.app import build_app

    for platform, why_not in ctx.settings.platform_status().items():
        if why_not is None:
            log.info("%s: configured", platform)
        else:
            log.info("%s: not configured (%s)", platform, why_not)
    log.info("serving on http://%s:%s", args.host, args.port)
    app = build_app(ctx.settings)
    app.on_startup.append(_freeze_heap)  # after the cleanup contexts: engines, clients, bolt app exist
    try:
        web.run_app(app, host=args.host, port=args.port, print=None, access_log=None, loop=new_event_loop())
    except OSError as exc:  # the port is taken, or the database cannot be reached at start-up
        print(f"handoff-bot: {ctx.catalogue.t('cli.serve.failed', error=one_line(exc))}", file=sys.stderr)
        return 1
    return 0


async def _freeze_heap(_app: object) -> None:
    """What start-up built lives as long as the process: keep it out of the collector's full passes.

    Measured under click load: full collections walked every module, engine and bolt object and
    paused the event loop up to 260 ms; frozen, the longest pause was 44 ms on a busy machine.
    """
    import gc

    gc.collect()
    gc.freeze()


async def cmd_worker(ctx: Context, args: argparse.Namespace) -> int:
    from handoff_bot.clock import SystemClock
    from handoff_bot.outbox.timers import register_timers
    from handoff_bot.outbox.worker import Handlers, OutboxWorker
    from handoff_bot.platforms.slack.runtime import slack_runtime
    from handoff_bot.services.privacy import schedule_retention
    from handoff_bot.services.reminders import schedule_summary
    from handoff_bot.storage.outbox import OutboxStore

    settings = ctx.settings
    async with contextlib.AsyncExitStack() as stack:
        _engine, sessions, uow = await stack.enter_async_context(ctx.storage())
        handlers = Handlers()
        policy = settings.reminder_policy()
        register_timers(
            handlers, uow=uow, clock=SystemClock(), policy=policy, retention_days=settings.retention_days
        )
        await schedule_summary(uow=uow, clock=SystemClock(), policy=policy)
        await schedule_retention(uow=uow, clock=SystemClock(), tz=settings.tz)
        if settings.platform_status()["slack"] is None:
            # Deliveries only: the listeners stay with `serve`, so no Socket Mode connection here.
            slack = await stack.enter_async_context(
                slack_runtime(settings, uow, SystemClock(), policy, socket_mode=False)
            )
            handlers.add_platform("slack", slack.delivery)
        if settings.platform_status()["teams"] is None:
            from handoff_bot.platforms.teams.runtime import teams_runtime

            # Deliveries only: incoming activities go to `serve` (POST /api/messages).
            teams = await stack.enter_async_context(teams_runtime(settings, uow, SystemClock(), policy))
            handlers.add_platform("teams", teams.delivery)
        for platform, why_not in settings.platform_status().items():
            log.info("%s deliveries: %s", platform, "on" if why_not is None else f"off ({why_not})")
        # Email intake runs here too: several pollers of one mailbox store each mail once.
        from handoff_bot.intake.email.poller import email_pollers, polling
        from handoff_bot.outbox.email_ack import register_email_ack

        register_email_ack(handlers, settings, uow=uow, clock=SystemClock())

        await stack.enter_async_context(
            polling(email_pollers(settings, uow=uow, clock=SystemClock(), metrics=None))
        )
        worker = OutboxWorker(
            OutboxStore(sessions, SystemClock()),
            handlers,
            SystemClock(),
            max_attempts=settings.outbox_max_attempts,
            lease_seconds=settings.outbox_lease_seconds,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await worker.run(stop)
    return 0


async def cmd_db_upgrade(ctx: Context, args: argparse.Namespace) -> int:
    from handoff_bot.storage import migrate

    async with ctx.storage(migrate=True) as (engine, _s, _u):
        # Optional: older storage modules had no way to read the revision back.
        revision_of = getattr(migrate, "database_revision", None)
        revision = await revision_of(engine) if revision_of is not None else None
    if revision is None:
        print(ctx.catalogue.t("cli.db.up_to_date"))
    else:
        print(ctx.catalogue.t("cli.db.revision", revision=revision))
    return 0


def _status_text(c: Catalogue, status: ContactStatus, person: Person | None) -> str:
    """ "open", "claimed by Marieke", "resolved by Piet"."""
    if person is None or status is ContactStatus.OPEN:
        return c.t(f"status.{status.value}")
    return c.t(f"cli.contacts.{status.value}_by", name=person.display_name)


def _handler(contact: Contact, people: dict[int, Person]) -> Person | None:
    person_id = contact.claimed_by if contact.status is ContactStatus.CLAIMED else contact.resolved_by
    return people.get(person_id) if person_id is not None else None


async def cmd_contacts_list(ctx: Context, args: argparse.Namespace) -> int:
    from handoff_bot.services.views import list_contacts

    c = ctx.catalogue
    status = ContactStatus(args.status) if args.status else None
    async with ctx.storage() as (_e, _s, uow):
        page = await list_contacts(uow=uow, status=status, limit=args.limit, before_id=args.before)
        customers: dict[int, str] = {}
        async with uow() as tx:
            for contact in page.items:
                if contact.customer_id not in customers:
                    customers[contact.customer_id] = (await tx.customers.get(contact.customer_id)).label
            ids = {p for contact in page.items for p in (contact.claimed_by, contact.resolved_by)}
            people = await tx.people.get_many(sorted(i for i in ids if i is not None))
    if not page.items:
        print(c.t("cli.contacts.none"))
        return 0
    rows = [[c.t(f"cli.col.{k}") for k in ("id", "received", "channel", "customer", "subject", "status")]]
    for contact in page.items:
        rows.append(
            [
                str(contact.id),
                ctx.when(contact.received_at),
                c.t(f"channel.{contact.channel.value}"),
                _cut(customers[contact.customer_id], 30),
                _cut(contact.subject, 40),
                _status_text(c, contact.status, _handler(contact, people)),
            ]
        )
    print(_table(rows))
    if page.next_before_id:
        print(c.t("cli.contacts.more", id=page.next_before_id))
    return 0


async def cmd_contacts_show(ctx: Context, args: argparse.Namespace) -> int:
    from handoff_bot.services.views import contact_details

    c = ctx.catalogue
    async with ctx.storage() as (_e, _s, uow):
        try:
            d = await contact_details(args.id, uow=uow)
        except NotFound:
            print(c.t("cli.not_found", id=args.id), file=sys.stderr)
            return 1

    def name(person_id: int | None) -> str:
        person = d.person(person_id)
        return person.display_name if person else c.t("person.unknown")

    contact = d.contact
    lines = [
        c.t(
            "cli.contact.title",
            id=contact.id,
            status=_status_text(c, contact.status, _handler(contact, d.people)),
        ),
        f"{c.t('cli.contact.customer')}: {d.customer.label}",
    ]
    lines += [f"  {c.t(f'card.detail.{i.kind.value}')}: {i.value}" for i in d.customer.sorted_identities()]
    lines += [
        f"{c.t('cli.contact.received')}: {ctx.when(contact.received_at)} "
        f"({c.t(f'channel.{contact.channel.value}')}, {c.t('cli.contact.source')}: {contact.source})",
        f"{c.t('cli.contact.subject')}: {contact.subject}",
    ]
    if contact.body:
        lines += ["", contact.body, ""]
    if d.context.earlier:
        lines.append(f"{c.t('cli.contact.context')}:")
        lines += [
            f"  #{e.contact_id}  {ctx.when(e.received_at)}  {c.t(f'channel.{e.channel.value}')}  "
            + _status_text(c, e.status, d.person(e.handled_by))
            for e in d.context.earlier
        ]
    else:
        lines.append(c.t("card.context.first"))
    if d.context.owner_id is not None:
        lines.append(f"{c.t('cli.contact.owner')}: {name(d.context.owner_id)}")
    if d.questions:
        lines.append(f"{c.t('cli.contact.questions')}:")
        for q in d.questions:
            lines.append(
                "  "
                + c.t(
                    "cli.contact.question",
                    asker=name(q.asker_id),
                    colleague=name(q.colleague_id),
                    text=q.text,
                )
            )
            if q.answer:
                lines.append("    " + c.t("cli.contact.answer", name=name(q.answered_by), text=q.answer))
    lines.append(f"{c.t('cli.contact.timeline')}:")
    for e in d.timeline:
        reason = e.data.get("reason")
        if e.kind is EventKind.REDACTED and reason in ("erased", "retention"):
            lines.append(f"  {ctx.when(e.at)}  {c.t(f'redacted.{reason}')}")
            continue
        to = e.data.get("to") or e.data.get("colleague")
        text = c.t(
            f"event.{e.kind.value}",
            actor=name(e.actor_id),
            to=name(to if isinstance(to, int) else None),
            channel=c.t(f"channel.{contact.channel.value}"),
            platform=e.data.get("platform", ""),
        )
        lines.append(f"  {ctx.when(e.at)}  {text}")
    print("\n".join(lines))
    return 0


async def cmd_outbox_list(ctx: Context, args: argparse.Namespace) -> int:
    from handoff_bot.clock import SystemClock
    from handoff_bot.storage.outbox import OutboxStore

    c = ctx.catalogue
    async with ctx.storage() as (_e, sessions, _u):
        entries = await OutboxStore(sessions, SystemClock()).entries(dead=args.dead, limit=args.limit)
    if not entries:
        print(c.t("cli.outbox.none_dead" if args.dead else "cli.outbox.none"))
        return 0
    rows = [[c.t(f"cli.col.{k}") for k in ("id", "kind", "platform", "status", "attempts", "due", "error")]]
    for e in entries:
        rows.append(
            [
                str(e.id),
                e.kind,
                e.platform or "-",
                c.t(f"cli.outbox.status.{e.status}"),
                str(e.attempts),
                ctx.when(e.due_at),
                _cut(e.last_error or "", 80),
            ]
        )
    print(_table(rows))
    return 0


async def cmd_outbox_retry(ctx: Context, args: argparse.Namespace) -> int:
    from handoff_bot.clock import SystemClock
    from handoff_bot.storage.outbox import OutboxStore

    async with ctx.storage() as (_e, sessions, _u):
        done = await OutboxStore(sessions, SystemClock()).requeue(args.id)
    key = "cli.outbox.requeued" if done else "cli.outbox.not_found"
    print(ctx.catalogue.t(key, id=args.id), file=sys.stdout if done else sys.stderr)
    return 0 if done else 1


@dataclass(frozen=True)
class PersonRow:
    line: int
    name: str
    email: str | None
    location: str | None
    identities: tuple[tuple[str, str], ...]


class BadHeader(ValueError):
    """The first line of a people CSV does not name the expected columns."""


def read_people_csv(text: str, c: Catalogue) -> tuple[list[PersonRow], list[str]]:
    """Rows worth importing, and one message per row that is not; BadHeader if the columns are wrong."""
    from handoff_bot.domain.customers import normalise_email

    first = text.split("\n", 1)[0]
    # Dutch spreadsheet programs save "CSV" with semicolons.
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader, [])]
    columns = ",".join(PEOPLE_COLUMNS)
    unknown = [h for h in header if h and h not in PEOPLE_COLUMNS]
    if unknown:
        raise BadHeader(c.t("cli.people.unknown_column", column=unknown[0], columns=columns))
    if "name" not in header:
        raise BadHeader(c.t("cli.people.bad_header", columns=columns))
    rows: list[PersonRow] = []
    errors: list[str] = []
    next_start = reader.line_num + 1
    for record in reader:
        # A quoted value may span lines: report a record by the line it starts on.
        start, next_start = next_start, reader.line_num + 1
        row = {col: value.strip() for col, value in zip(header, record, strict=False) if col}
        if not any(row.values()):
            continue  # a blank line, or one of only separators
        if not row.get("name"):
            errors.append(c.t("cli.people.row_error", line=start, error=c.t("cli.people.missing_name")))
            continue
        email = row.get("email") or None
        try:
            email = normalise_email(email).value if email else None
        except InvalidIdentity:
            error = c.t("cli.people.bad_email", value=email)
            errors.append(c.t("cli.people.row_error", line=start, error=error))
            continue
        identities = tuple(
            (platform, row[col])
            for platform, col in (("slack", "slack_user_id"), ("teams", "teams_aad_object_id"))
            if row.get(col)
        )
        rows.append(PersonRow(start, row["name"], email, row.get("location") or None, identities))
    return rows, errors


async def cmd_people_import(ctx: Context, args: argparse.Namespace) -> int:
    from handoff_bot.services.commands import EnsurePerson
    from handoff_bot.services.people import ensure_person

    c = ctx.catalogue
    path = Path(args.file)
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
    except UnicodeDecodeError:
        print(c.t("cli.people.not_utf8", path=args.file), file=sys.stderr)
        return 1
    except OSError as exc:
        print(c.t("cli.people.no_file", path=args.file, error=exc.strerror or exc), file=sys.stderr)
        return 1
    try:
        rows, errors = read_people_csv(text, c)
    except BadHeader as exc:
        print(exc, file=sys.stderr)
        return 1
    for message in errors:
        print(message, file=sys.stderr)
    created = updated = unchanged = 0
    skipped = len(errors)
    async with ctx.storage() as (_e, _s, uow):
        for row in rows:
            async with uow() as tx:
                before = await _existing_person(tx, row)
            try:
                after = await ensure_person(
                    EnsurePerson(row.name, row.email, row.location, row.identities), uow=uow
                )
            except DomainError as exc:
                skipped += 1
                print(c.t("cli.people.row_error", line=row.line, error=exc.code), file=sys.stderr)
                continue
            if before is None:
                created += 1
            elif before == after:
                unchanged += 1
            else:
                updated += 1
    print(c.t("cli.people.summary", created=created, updated=updated, unchanged=unchanged, skipped=skipped))
    return 1 if skipped else 0


async def _existing_person(tx: SqlUnitOfWork, row: PersonRow) -> Person | None:
    """The person ensure_person will update (it looks the same way), to tell created from updated."""
    for platform, user_id in row.identities:
        found = await tx.people.by_identity(platform, user_id)
        if found is not None:
            return found
    return await tx.people.by_email(row.email) if row.email else None


async def _find_customer(ctx: Context, args: argparse.Namespace, uow: SqlUnitOfWorkFactory) -> int:
    """The customer named by --id, --email or --phone; NotFound (or InvalidIdentity) otherwise."""
    from handoff_bot.domain.customers import normalise_email, normalise_phone

    if args.id is not None:
        return int(args.id)
    identity = (
        normalise_email(args.email) if args.email else normalise_phone(args.phone, ctx.settings.phone_region)
    )
    async with uow() as tx:
        found = await tx.customers.find_by_identities([identity])
    if not found or found[0].id is None:
        raise NotFound(entity="customer", key="?")
    return found[0].id


async def cmd_customers_export(ctx: Context, args: argparse.Namespace) -> int:
    from handoff_bot.services.privacy import export_customer

    async with ctx.storage() as (_e, _s, uow):
        try:
            customer_id = await _find_customer(ctx, args, uow)
            data = await export_customer(customer_id, uow=uow)
        except (NotFound, InvalidIdentity):
            print(ctx.catalogue.t("cli.customer.not_found"), file=sys.stderr)
            return 1
    print(json.dumps(data, ensure_ascii=False, indent=2))
    return 0


async def cmd_customers_erase(ctx: Context, args: argparse.Namespace) -> int:
    import getpass

    from handoff_bot.clock import SystemClock
    from handoff_bot.services.privacy import erase_customer

    async with ctx.storage() as (_e, _s, uow):
        try:
            customer_id = await _find_customer(ctx, args, uow)
            erasure = await erase_customer(
                customer_id, by=f"cli:{getpass.getuser()}", uow=uow, clock=SystemClock()
            )
        except (NotFound, InvalidIdentity):
            print(ctx.catalogue.t("cli.customer.not_found"), file=sys.stderr)
            return 1
    print(ctx.catalogue.t("cli.customer.erased", id=customer_id, contacts=erasure.contacts))
    return 0


def cmd_manifest_slack(ctx: Context | None, args: argparse.Namespace) -> int:
    from handoff_bot.platforms.slack import manifest

    try:
        print(manifest.render(args.url, socket_mode=args.socket_mode), end="")
    except ValueError as exc:
        print(f"handoff-bot: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_manifest_teams(ctx: Context | None, args: argparse.Namespace) -> int:
    from handoff_bot.platforms.teams import manifest

    try:
        out = manifest.write_package(
            Path(args.out), args.app_id, package_id=args.package_id, url=args.url, version=args.version
        )
    except ValueError as exc:
        print(f"handoff-bot: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"handoff-bot: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return 1
    print(out)
    return 0


# ---------------------------------------------------------------- parser


def _count(text: str) -> int:
    """A --limit: a whole number from 1 to MAX_LIST (argparse would list every allowed choice)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_LIST:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_LIST}, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="handoff-bot",
        description="The team chat as the receptionist's desk (Slack and Microsoft Teams).",
        epilog=TOP_EPILOG,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the HTTP server and the outbox worker", description=ALL_ENV)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=3978, help="port to listen on (default: %(default)s)")
    serve.set_defaults(run=cmd_serve)
    sub.add_parser(
        "worker", help="run only the outbox worker (several may share PostgreSQL)", description=ALL_ENV
    ).set_defaults(run=cmd_worker)

    db = sub.add_parser("db", help="database maintenance", description=DB_ENV)
    dsub = db.add_subparsers(dest="db_command", required=True)
    dsub.add_parser("upgrade", help="apply migrations", description=DB_ENV).set_defaults(run=cmd_db_upgrade)

    contacts = sub.add_parser("contacts", help="the contact queue", description=DB_ENV)
    csub = contacts.add_subparsers(dest="contacts_command", required=True)
    listing = csub.add_parser("list", help="list contacts, newest first", description=DB_ENV)
    listing.add_argument("--status", choices=[s.value for s in ContactStatus])
    listing.add_argument("--limit", type=_count, default=50, metavar="N", help="at most N (default: 50)")
    listing.add_argument("--before", type=int, default=None, metavar="ID", help="continue below this id")
    listing.set_defaults(run=cmd_contacts_list)
    show = csub.add_parser(
        "show", help="one contact with its customer, questions and timeline", description=DB_ENV
    )
    show.add_argument("id", type=int)
    show.set_defaults(run=cmd_contacts_show)

    outbox = sub.add_parser("outbox", help="chat deliveries", description=DB_ENV)
    osub = outbox.add_subparsers(dest="outbox_command", required=True)
    olist = osub.add_parser("list", help="pending and dead-lettered deliveries", description=DB_ENV)
    olist.add_argument("--dead", action="store_true", help="only dead-lettered ones")
    olist.add_argument("--limit", type=_count, default=100, metavar="N", help="at most N (default: 100)")
    olist.set_defaults(run=cmd_outbox_list)
    oretry = osub.add_parser("retry", help="deliver a dead-lettered row again", description=DB_ENV)
    oretry.add_argument("id", type=int)
    oretry.set_defaults(run=cmd_outbox_retry)

    people = sub.add_parser("people", help="employees", description=DB_ENV)
    psub = people.add_subparsers(dest="people_command", required=True)
    pimport = psub.add_parser(
        "import",
        help="import or update people from a CSV file",
        description=(
            f"CSV (UTF-8, comma or semicolon) with a header row naming some of: {','.join(PEOPLE_COLUMNS)}. "
            "name is required; other columns may be missing or blank. People are matched by Slack or "
            f"Teams id, then by email. Exit code 1 if any row was skipped. {DB_ENV}"
        ),
    )
    pimport.add_argument("file")
    pimport.set_defaults(run=cmd_people_import)

    customers = sub.add_parser(
        "customers", help="a customer's data: export or erase (GDPR/AVG)", description=DB_ENV
    )
    cusub = customers.add_subparsers(dest="customers_command", required=True)
    for name, run, text in (
        ("export", cmd_customers_export, "print everything held about a customer as JSON"),
        ("erase", cmd_customers_erase, "remove a customer's personal data everywhere"),
    ):
        cmd = cusub.add_parser(name, help=text, description=f"{text}. {DB_ENV} Also HANDOFF_PHONE_REGION.")
        which = cmd.add_mutually_exclusive_group(required=True)
        which.add_argument("--email")
        which.add_argument("--phone")
        which.add_argument("--id", type=int)
        cmd.set_defaults(run=run)

    manifest = sub.add_parser("manifest", help="print a platform app manifest").add_subparsers(
        dest="manifest_command", required=True
    )
    mslack = manifest.add_parser(
        "slack", help="the Slack app manifest with your request URLs", description="Reads no settings."
    )
    mslack.add_argument("--url", help="public https:// base URL of this bot")
    mslack.add_argument("--socket-mode", action="store_true", help="no public URL: use Socket Mode")
    mslack.set_defaults(run=cmd_manifest_slack, needs_settings=False)
    mteams = manifest.add_parser(
        "teams",
        help="the Teams app package (zip) to upload",
        description="Writes manifest.json, the icons and the Dutch strings into one zip. Reads no settings.",
    )
    mteams.add_argument("--app-id", required=True, help="the Azure Bot's Microsoft App ID (MICROSOFT_APP_ID)")
    mteams.add_argument("--out", default="handoff-teams.zip", help="where to write the zip")
    mteams.add_argument("--url", help="public https:// base URL of this bot (for validDomains)")
    mteams.add_argument("--package-id", help="the Teams app id, if not the bot's app id")
    mteams.add_argument("--version", help="the app version (raise it on every upload of a change)")
    mteams.set_defaults(run=cmd_manifest_teams, needs_settings=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit code is 0 (done), 1 (it failed) or 2 (bad usage or setting)."""
    args = build_parser().parse_args(argv)
    run: Callable[..., int | Awaitable[int]] = args.run
    if getattr(args, "needs_settings", True) is False:
        result = run(None, args)
        assert isinstance(result, int)
        return result
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"handoff-bot: {exc}", file=sys.stderr)
        return 2
    catalogue = Catalogue(settings.language)
    if not check_database_url(settings.database_url):
        print(f"handoff-bot: {catalogue.t('cli.db.bad_url')}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        outcome = run(Context(settings, catalogue), args)
        if asyncio.iscoroutine(outcome):
            with asyncio.Runner(loop_factory=new_event_loop) as runner:
                outcome = runner.run(outcome)
    except DatabaseUnavailable as exc:
        print(f"handoff-bot: {catalogue.t('cli.db.unavailable', error=exc)}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        # Already one line for the operator; the traceback only at HANDOFF_LOG_LEVEL=DEBUG.
        log.debug("database error", exc_info=True)
        print(f"handoff-bot: {catalogue.t('cli.db.unavailable', error=one_line(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    assert isinstance(outcome, int)
    return outcome


if __name__ == "__main__":
    raise SystemExit(main())
