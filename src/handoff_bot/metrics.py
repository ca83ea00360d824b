"""Prometheus metrics, kept in a registry per app (nothing global, nothing at import)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from handoff_bot.domain.events import EventKind
from handoff_bot.services.ports import Committed

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds from arrival to claim: a small office answers within minutes, a bad day takes hours.
CLAIM_BUCKETS = (10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.contacts_received = Counter(
            "handoff_contacts_received", "Contacts received", ["channel", "source"], registry=self.registry
        )
        self.claims = Counter("handoff_claims", "Contacts claimed", registry=self.registry)
        self.time_to_claim = Histogram(
            "handoff_time_to_claim_seconds",
            "Time from a contact's arrival to its claim",
            buckets=CLAIM_BUCKETS,
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "handoff_outbox_backlog", "Outbox rows waiting for delivery", registry=self.registry
        )
        self.outbox_dead = Gauge("handoff_outbox_dead", "Outbox rows dead-lettered", registry=self.registry)
        self.outbox_failures = Counter(
            "handoff_outbox_failures",
            "Failed outbox deliveries by outcome (retry or dead)",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.outbox_delivered = Counter(
            "handoff_outbox_delivered", "Outbox rows delivered", ["kind"], registry=self.registry
        )
        self.email_received = Counter(
            "handoff_email_received",
            "Mails taken in, by outcome (created, follow_up, reopened, duplicate)",
            ["outcome"],
            registry=self.registry,
        )
        self.email_skipped = Counter(
            "handoff_email_skipped",
            "Mails not turned into contacts, by reason (auto_reply, bounce, bulk, no_sender)",
            ["reason"],
            registry=self.registry,
        )

    def on_commit(self, committed: Committed) -> None:
        """Unit-of-work listener: count what the committed transaction did."""
        for event in committed.events:
            if event.kind is EventKind.RECEIVED:
                self.contacts_received.labels(
                    str(event.data.get("channel", "")), str(event.data.get("source", ""))
                ).inc()
            elif event.kind is EventKind.CLAIMED:
                self.claims.inc()
                self.time_to_claim.observe(float(event.data.get("waited_seconds", 0.0)))

    def render(self, pending: int, dead: int) -> bytes:
        self.outbox_backlog.set(pending)
        self.outbox_dead.set(dead)
        return generate_latest(self.registry)
