"""`handoff-bot`: serve, worker, db, contacts, outbox, people, manifest."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from handoff_bot.config import Settings, SettingsError, load_settings
from handoff_bot.domain.contacts import ContactStatus
from handoff_bot.domain.errors import DomainError, InvalidIdentity, NotFound
from handoff_bot.i18n.catalogue import Catalogue, format_datetime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from handoff_bot.storage.uow import SqlUnitOfWorkFactory

    Storage = tuple[AsyncEngine, async_sessionmaker[AsyncSession], SqlUnitOfWorkFactory]

log = logging.getLogger("handoff_bot")
DB_ENV = "reads HANDOFF_DATABASE_URL and HANDOFF_LANGUAGE / HANDOFF_TIMEZONE (environment or .env)"
SERVE_ENV = (
    "reads every setting from the environment or .env: HANDOFF_DATABASE_URL, HANDOFF_INTAKE_TOKENS, "
    "HANDOFF_LANGUAGE, HANDOFF_TIMEZONE, HANDOFF_PHONE_REGION, HANDOFF_PUBLIC_URL, HANDOFF_AUTO_MIGRATE, "
    "HANDOFF_LOG_LEVEL, HANDOFF_OUTBOX_MAX_ATTEMPTS, HANDOFF_OUTBOX_LEASE_SECONDS, SLACK_BOT_TOKEN, "
    "SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, SLACK_CONTACTS_CHANNEL, SLACK_API_URL, MICROSOFT_APP_ID, "
    "MICROSOFT_APP_PASSWORD, MICROSOFT_APP_TENANT_ID, MICROSOFT_APP_TYPE, TEAMS_CONTACTS_CHANNEL"
)
PEOPLE_COLUMNS = ("name", "email", "location", "slack_user_id", "teams_aad_object_id")


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
    async def storage(self) -> AsyncIterator[Storage]:
        from handoff_bot.app import configured_platforms
        from handoff_bot.clock import SystemClock
        from handoff_bot.storage.db import create_engine, session_factory
        from handoff_bot.storage.migrate import upgrade_database
        from handoff_bot.storage.uow import SqlUnitOfWorkFactory

        engine = create_engine(self.settings.database_url)
        try:
            if self.settings.auto_migrate:
                await upgrade_database(engine)
            sessions = session_factory(engine)
            uow = SqlUnitOfWorkFactory(
                sessions, platforms=configured_platforms(self.settings), clock=SystemClock()
            )
            yield engine, sessions, uow
        finally:
            await engine.dispose()

    def when(self, moment: object) -> str:
        from datetime import datetime

        assert isinstance(moment, datetime)
        return format_datetime(moment, self.settings.tz, self.catalogue.language)


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
    web.run_app(build_app(ctx.settings), host=args.host, port=args.port, print=None, access_log=None)
    return 0


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
        for platform, why_not in settings.platform_status().items():
            log.info("%s deliveries: %s", platform, "on" if why_not is None else f"off ({why_not})")
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
    from handoff_bot.storage.migrate import database_revision, upgrade_database

    async with ctx.storage() as (engine, _s, _u):
        await upgrade_database(engine)
        print(ctx.catalogue.t("cli.db.revision", revision=await database_revision(engine)))
    return 0


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
                c.t(f"status.{contact.status.value}"),
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
        c.t("cli.contact.title", id=contact.id, status=c.t(f"status.{contact.status.value}")),
        f"{c.t('cli.contact.customer')}: {d.customer.label}",
    ]
    lines += [f"  {i.kind.value}: {i.value}" for i in d.customer.sorted_identities()]
    lines += [
        f"{c.t('cli.contact.received')}: {ctx.when(contact.received_at)} "
        f"({c.t(f'channel.{contact.channel.value}')}, {c.t('cli.contact.source')}: {contact.source})",
        f"{c.t('cli.contact.subject')}: {contact.subject}",
        "",
        contact.body,
        "",
    ]
    if d.context.earlier:
        lines.append(f"{c.t('cli.contact.context')}:")
        lines += [
            f"  #{e.contact_id} {ctx.when(e.received_at)} {c.t(f'channel.{e.channel.value}')} "
            f"{c.t(f'status.{e.status.value}')} {name(e.handled_by)}"
            for e in d.context.earlier
        ]
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
                e.status,
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


async def cmd_people_import(ctx: Context, args: argparse.Namespace) -> int:
    from handoff_bot.services.commands import EnsurePerson
    from handoff_bot.services.people import ensure_person

    c = ctx.catalogue
    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")  # noqa: ASYNC240 - one small file, read once
    except (OSError, UnicodeDecodeError) as exc:
        print(c.t("cli.people.no_file", path=args.file, error=type(exc).__name__), file=sys.stderr)
        return 1
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or not {"name", "email"} <= {f.strip().lower() for f in reader.fieldnames}:
        print(c.t("cli.people.bad_header", columns=",".join(PEOPLE_COLUMNS)), file=sys.stderr)
        return 1
    created = updated = failed = 0
    async with ctx.storage() as (_e, _s, uow):
        for line, raw in enumerate(reader, start=2):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if isinstance(v, str)}
            if not row.get("name"):
                failed += 1
                print(
                    c.t("cli.people.row_error", line=line, error=c.t("cli.people.missing_name")),
                    file=sys.stderr,
                )
                continue
            identities = tuple(
                (p, row[col])
                for p, col in (("slack", "slack_user_id"), ("teams", "teams_aad_object_id"))
                if row.get(col)
            )
            async with uow() as tx:
                existed = (
                    await tx.people.by_email(row["email"].lower()) if row.get("email") else None
                ) is not None
            try:
                await ensure_person(
                    EnsurePerson(
                        row["name"], row.get("email") or None, row.get("location") or None, identities
                    ),
                    uow=uow,
                )
            except InvalidIdentity:
                failed += 1
                error = c.t("cli.people.bad_email", value=row.get("email", ""))
                print(c.t("cli.people.row_error", line=line, error=error), file=sys.stderr)
                continue
            except DomainError as exc:
                failed += 1
                print(c.t("cli.people.row_error", line=line, error=exc.code), file=sys.stderr)
                continue
            updated, created = (updated + 1, created) if existed else (updated, created + 1)
    print(c.t("cli.people.summary", created=created, updated=updated, failed=failed))
    return 1 if failed else 0


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


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="handoff-bot",
        description="The team chat as the receptionist's desk (Slack and Microsoft Teams).",
        epilog="Settings come from the environment or a .env file; the README lists them.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the HTTP server and the outbox worker", description=SERVE_ENV)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3978)
    serve.set_defaults(run=cmd_serve)
    sub.add_parser(
        "worker", help="run only the outbox worker (several may share PostgreSQL)", description=SERVE_ENV
    ).set_defaults(run=cmd_worker)

    db = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations", description=DB_ENV).set_defaults(run=cmd_db_upgrade)

    contacts = sub.add_parser("contacts", help="the contact queue").add_subparsers(
        dest="contacts_command", required=True
    )
    listing = contacts.add_parser("list", help="list contacts, newest first", description=DB_ENV)
    listing.add_argument("--status", choices=[s.value for s in ContactStatus])
    listing.add_argument("--limit", type=int, default=50, choices=range(1, 1001), metavar="N")
    listing.add_argument("--before", type=int, default=None, metavar="ID", help="continue below this id")
    listing.set_defaults(run=cmd_contacts_list)
    show = contacts.add_parser(
        "show", help="one contact with its customer, questions and timeline", description=DB_ENV
    )
    show.add_argument("id", type=int)
    show.set_defaults(run=cmd_contacts_show)

    outbox = sub.add_parser("outbox", help="chat deliveries").add_subparsers(
        dest="outbox_command", required=True
    )
    olist = outbox.add_parser("list", help="pending and dead-lettered deliveries", description=DB_ENV)
    olist.add_argument("--dead", action="store_true", help="only dead-lettered ones")
    olist.add_argument("--limit", type=int, default=100)
    olist.set_defaults(run=cmd_outbox_list)
    oretry = outbox.add_parser("retry", help="deliver a dead-lettered row again", description=DB_ENV)
    oretry.add_argument("id", type=int)
    oretry.set_defaults(run=cmd_outbox_retry)

    people = sub.add_parser("people", help="employees").add_subparsers(dest="people_command", required=True)
    pimport = people.add_parser(
        "import",
        help="import or update people from a CSV file",
        description=(f"CSV with a header row: {','.join(PEOPLE_COLUMNS)} (blank columns allowed). {DB_ENV}"),
    )
    pimport.add_argument("file")
    pimport.set_defaults(run=cmd_people_import)

    customers = sub.add_parser("customers", help="a customer's data: export or erase (GDPR/AVG)")
    csub = customers.add_subparsers(dest="customers_command", required=True)
    for name, run, text in (
        ("export", cmd_customers_export, "print everything held about a customer as JSON"),
        ("erase", cmd_customers_erase, "remove a customer's personal data everywhere"),
    ):
        cmd = csub.add_parser(name, help=text, description=f"{text}. {DB_ENV}")
        which = cmd.add_mutually_exclusive_group(required=True)
        which.add_argument("--email")
        which.add_argument("--phone")
        which.add_argument("--id", type=int)
        cmd.set_defaults(run=run)

    manifest = sub.add_parser("manifest", help="print a platform app manifest").add_subparsers(
        dest="manifest_command", required=True
    )
    mslack = manifest.add_parser(
        "slack", help="the Slack app manifest with your request URLs", description="reads no settings"
    )
    mslack.add_argument("--url", help="public https:// base URL of this bot")
    mslack.add_argument("--socket-mode", action="store_true", help="no public URL: use Socket Mode")
    mslack.set_defaults(run=cmd_manifest_slack, needs_settings=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
    configure_logging(settings.log_level)
    ctx = Context(settings, Catalogue(settings.language))
    outcome = run(ctx, args)
    if asyncio.iscoroutine(outcome):
        outcome = asyncio.run(outcome)
    assert isinstance(outcome, int)
    return outcome


if __name__ == "__main__":
    raise SystemExit(main())
