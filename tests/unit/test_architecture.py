"""Imports point inward and nothing happens at import (STYLE.md conventions 1 and 2)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import handoff_bot

SRC = Path(handoff_bot.__file__).resolve().parent
CORE = ("domain", "services")
# Frameworks and I/O clients belong to the adapters; `importlib` would let a core module dodge this test.
FORBIDDEN_IN_CORE = (
    "slack_",
    "slack",
    "botbuilder",
    "aiohttp",
    "sqlalchemy",
    "alembic",
    "prometheus_client",
    "msal",
    "asyncpg",
    "aiosqlite",
    "requests",
    "httpx",
    "importlib",
)
ALLOWED_OWN = {
    "domain": ("handoff_bot.domain",),
    "services": ("handoff_bot.domain", "handoff_bot.services"),
}
# Immutable values are fine as defaults; anything else would be built once, at import, and shared.
VALUE_CONSTRUCTORS = {"timedelta", "frozenset", "tuple", "Decimal", "time", "date"}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # what it imports, absolute and dotted
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str, is_package: bool = False) -> Iterator[Import]:
    """Every import in `source`, relative ones resolved, including those under TYPE_CHECKING."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                prefix = ".".join(base)
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            # `from handoff_bot import storage` imports the submodule: judge each name as a module.
            for alias in node.names:
                yield Import(module, f"{target}.{alias.name}", node.lineno)


def core_files(layer: str) -> list[Path]:
    return sorted((SRC / layer).rglob("*.py"))


def all_imports(layer: str) -> list[Import]:
    found: list[Import] = []
    for path in core_files(layer):
        found += imports_of(path.read_text(), module_name(path), path.name == "__init__.py")
    return found


def violations(found: list[Import], layer: str) -> list[str]:
    return [f"{i.module}:{i.line} imports {i.target}" for i in found if _outward(i.target, layer)]


def _outward(target: str, layer: str) -> bool:
    top = target.partition(".")[0]
    if any(top == name or (name.endswith("_") and top.startswith(name)) for name in FORBIDDEN_IN_CORE):
        return True
    own = ALLOWED_OWN[layer]
    return top == "handoff_bot" and not any(target == o or target.startswith(f"{o}.") for o in own)


@pytest.mark.parametrize("layer", CORE)
def test_the_core_imports_no_framework_and_nothing_outward(layer: str) -> None:
    found = all_imports(layer)

    assert violations(found, layer) == []


def test_the_import_walk_sees_real_imports() -> None:
    # Guards against the test above passing because it read nothing.
    targets = {i.target for i in all_imports("services")}

    assert "handoff_bot.domain.contacts.Contact" in targets
    assert "handoff_bot.services.ports.UnitOfWorkFactory" in targets
    assert len(core_files("domain")) >= 8


@pytest.mark.parametrize(
    ("source", "module", "layer"),
    [
        ("import sqlalchemy.orm", "handoff_bot.domain.x", "domain"),
        ("from slack_sdk import WebClient", "handoff_bot.services.x", "services"),
        ("from botbuilder.core import TurnContext", "handoff_bot.domain.x", "domain"),
        ("from aiohttp import web", "handoff_bot.services.x", "services"),
        ("import msal", "handoff_bot.services.x", "services"),
        ("from ..storage import models", "handoff_bot.services.x", "services"),
        ("from handoff_bot import storage", "handoff_bot.services.x", "services"),
        ("from ..services.ports import Clock", "handoff_bot.domain.x", "domain"),
        ("from handoff_bot.config import Settings", "handoff_bot.domain.x", "domain"),
        (
            "if TYPE_CHECKING:\n    from handoff_bot.platforms import cards",
            "handoff_bot.services.x",
            "services",
        ),
        ("import importlib\nimportlib.import_module('sqlalchemy')", "handoff_bot.domain.x", "domain"),
    ],
)
def test_the_checker_flags_outward_imports(source: str, module: str, layer: str) -> None:
    assert len(violations(list(imports_of(source, module)), layer)) == 1


@pytest.mark.parametrize(
    ("source", "module", "layer"),
    [
        ("from .errors import NotFound", "handoff_bot.domain.contacts", "domain"),
        ("from . import errors", "handoff_bot.domain", "domain"),
        ("from ..domain.errors import NotFound", "handoff_bot.services.x", "services"),
        ("import phonenumbers\nfrom dataclasses import dataclass", "handoff_bot.domain.x", "domain"),
    ],
)
def test_the_checker_allows_inward_imports(source: str, module: str, layer: str) -> None:
    is_package = module == "handoff_bot.domain"
    assert violations(list(imports_of(source, module, is_package)), layer) == []


# --- the Bot Framework SDK stays in the Teams package --------------------------------------------------

# The SDK is archived upstream; its successor (Microsoft 365 Agents SDK) must stay a local change.
BOT_FRAMEWORK = ("botbuilder", "botframework", "msrest", "msal")
TEAMS_PACKAGE = "handoff_bot.platforms.teams"


def bot_framework_imports_outside_teams(found: list[Import]) -> list[str]:
    return [
        f"{i.module}:{i.line} imports {i.target}"
        for i in found
        if i.target.partition(".")[0] in BOT_FRAMEWORK
        and not (i.module == TEAMS_PACKAGE or i.module.startswith(f"{TEAMS_PACKAGE}."))
    ]


def every_import() -> list[Import]:
    found: list[Import] = []
    for path in sorted(SRC.rglob("*.py")):
        found += imports_of(path.read_text(), module_name(path), path.name == "__init__.py")
    return found


def test_bot_framework_imports_live_only_in_the_teams_package() -> None:
    found = every_import()

    assert bot_framework_imports_outside_teams(found) == []
    # The check sees the real imports (it would pass vacuously otherwise).
    inside = [i for i in found if i.target.startswith("botbuilder") and i.module.startswith(TEAMS_PACKAGE)]
    assert len(inside) >= 5


@pytest.mark.parametrize(
    ("source", "module", "flagged"),
    [
        ("from botbuilder.core import TurnContext", "handoff_bot.app", True),
        ("import botframework.connector", "handoff_bot.outbox.worker", True),
        ("from msal import ConfidentialClientApplication", "handoff_bot.platforms.slack.people", True),
        ("from botbuilder.schema import Activity", "handoff_bot.platforms.teams.client", False),
        ("from botbuilder.schema import Activity", "handoff_bot.platforms.teams.listeners.cards", False),
        ("from handoff_bot.platforms.teams.runtime import TeamsRuntime", "handoff_bot.keys", False),
        ("from botbuilder.core import TurnContext", "handoff_bot.platforms.teamsish", True),
    ],
)
def test_the_teams_boundary_checker(source: str, module: str, flagged: bool) -> None:
    assert bool(bot_framework_imports_outside_teams(list(imports_of(source, module)))) is flagged


# --- nothing happens at import ---------------------------------------------------------------------


# Alembic runs its env.py as a script inside a migration context; it is not an importable module.
SCRIPTS = {"handoff_bot.storage.migrations.env"}


def every_module() -> list[str]:
    names = [handoff_bot.__name__]
    for info in pkgutil.walk_packages([str(SRC)], prefix=f"{handoff_bot.__name__}."):
        names.append(info.name)
    return sorted(set(names) - SCRIPTS)


def live_object_types() -> tuple[type, ...]:
    """Things that hold connections, sockets, threads or global registrations once constructed."""
    import aiohttp
    import prometheus_client
    import sqlalchemy
    from aiohttp import web
    from prometheus_client.metrics import MetricWrapperBase
    from sqlalchemy.ext import asyncio as sa_asyncio
    from sqlalchemy.orm import Session, sessionmaker

    types: list[type] = [
        web.Application,
        web.AppRunner,
        aiohttp.ClientSession,
        sqlalchemy.Engine,
        sa_asyncio.AsyncEngine,
        sa_asyncio.AsyncSession,
        sa_asyncio.async_sessionmaker,
        Session,
        sessionmaker,
        prometheus_client.CollectorRegistry,
        MetricWrapperBase,
    ]
    for module, names in (
        ("slack_bolt", ("App",)),
        ("slack_bolt.async_app", ("AsyncApp",)),
        ("slack_sdk", ("WebClient",)),
        ("slack_sdk.web.async_client", ("AsyncWebClient",)),
        ("botbuilder.core", ("BotFrameworkAdapter",)),
        ("botbuilder.integration.aiohttp", ("CloudAdapter",)),
        ("msal", ("ClientApplication",)),
    ):
        try:
            loaded = importlib.import_module(module)
        except ImportError:
            continue  # an SDK that is not installed cannot have been constructed either
        types += [getattr(loaded, n) for n in names if isinstance(getattr(loaded, n, None), type)]
    import asyncio
    import threading

    return (*types, asyncio.AbstractEventLoop, asyncio.Future, threading.Thread)


def test_every_module_imports_without_building_live_objects() -> None:
    live = live_object_types()
    built: list[str] = []
    failed: list[str] = []
    for name in every_module():
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # reported below with the module's name, not swallowed
            failed.append(f"{name}: {exc!r}")
            continue
        built += [
            f"{name}.{attr} is a {type(value).__name__}"
            for attr, value in vars(module).items()
            if isinstance(value, live)
        ]

    assert failed == []
    assert built == []
    assert "handoff_bot.app" in every_module()


def test_the_live_object_check_recognises_what_it_looks_for() -> None:
    from aiohttp import web
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine("sqlite+aiosqlite://")
    live = live_object_types()

    assert isinstance(web.Application(), live)
    assert isinstance(engine, live)


def test_no_default_argument_constructs_anything() -> None:
    built: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            defaults = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
            for default in defaults:
                if isinstance(default, ast.Call) and _callee(default) not in VALUE_CONSTRUCTORS:
                    built.append(f"{module_name(path)}:{default.lineno} {ast.unparse(default)}")

    assert built == []


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
