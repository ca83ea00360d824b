"""Raw mail from real clients becomes the sender, thread, new text, attachments and a skip reason."""

from __future__ import annotations

import base64
import os
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff_bot.intake.email import ParsedMail, classify, parse_mail
from handoff_bot.intake.email.html_text import html_to_text
from handoff_bot.intake.email.parse import TEXT_LIMIT

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "email"
CET = timezone(timedelta(hours=1))


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def plain(body: str | bytes, *, headers: str = "", charset: str = "utf-8") -> bytes:
    """A minimal plain-text mail from Anna with `body` as it would sit in the mailbox."""
    head = (
        "From: Anna Jansen <anna@x.nl>\r\nTo: support@handoff.example\r\nSubject: Vraag\r\n"
        f"Message-ID: <m1@x.nl>\r\n{headers}Content-Type: text/plain; charset={charset}\r\n\r\n"
    )
    data = body.encode() if isinstance(body, str) else body
    return head.encode() + data


# --- the corpus: what each client's mail turns into ------------------------------------------------


CORPUS: dict[str, dict[str, object]] = {
    "outlook_en.eml": dict(
        message_id="AM0PR02MB56215B1E2F1D3C4A9E8B7C6DA5F42@AM0PR02MB5621.eurprd02.prod.outlook.com",
        from_name="Mark de Vries",
        from_address="mark@devries.example",
        subject="RE: Invoice 2026-1142 [#1042]",
        text=(
            "Hi Support,\n\nThe invoice still shows € 1.250,00 instead of € 1.050,00. Could you check "
            "invoice 2026-1142 again?\n1. The discount was agreed on the phone.\n\n"
            "Kind regards,\nMark de Vries"
        ),
        attachments=(("image001.png", 1036),),
        contact_tag=1042,
        skip_reason=None,
    ),
    "outlook_nl.eml": dict(
        message_id="000001db3e1a$8c2f4e10$a48dea30$@bakker.example",
        from_name="Sanne Bakker",
        from_address="sanne@bakker.example",
        subject="RE: Bestelling 88213 [#2077] – nog niet ontvangen",
        text=(
            "Goedemiddag,\n\nIk heb het pakket nog steeds niet ontvangen. Kunt u dit nagaan? "
            "Het ging om € 89,95.\n\nMet vriendelijke groet,\nSanne Bakker"
        ),
        attachments=(),
        contact_tag=2077,
        skip_reason=None,
    ),
    "gmail.eml": dict(
        message_id="CAKx7q2Vt3b4nN=0sY9f_L2yD5gQ@mail.gmail.com",
        from_name="Pieter van Dijk",
        from_address="pieter.vandijk@gmail.example",
        subject="Re: Password reset [#1043]",
        text=(
            "Hi,\n\nThanks, the new password works. One more question: can I change the delivery\n"
            "address for order 88213 to Keizersgracht 12, Amsterdam?\n\nPieter"
        ),
        attachments=(),
        contact_tag=1043,
        skip_reason=None,
    ),
    "apple_nl.eml": dict(
        message_id="7C1F3E2A-9B4D-4F6A-8E2C-1D3B5A7F9E0C@icloud.example",
        from_name="Marie Clément",
        from_address="marie.clement@icloud.example",
        subject="Re: Afspraak verzetten",
        text=(
            "Hallo,\n\nKan ik de afspraak van donderdag verzetten naar vrijdag 27 november om 14:00? "
            "Dat zou ideaal zijn.\n\nGroetjes,\nMarie"
        ),
        attachments=(),
        contact_tag=None,
        skip_reason=None,
    ),
    "iphone_nl.eml": dict(
        message_id="A1B2C3D4-E5F6-4789-9ABC-DEF012345678@kpnmail.example",
        from_name="Jeroen",
        from_address="jeroen@kpnmail.example",
        subject="Re: Offerte dakkapel [#3120]",
        text="Akkoord met de offerte. Wanneer kunnen jullie beginnen?",
        attachments=(),
        contact_tag=3120,
        skip_reason=None,
    ),
    "thunderbird_flowed.eml": dict(
        message_id="5f1e9c2a-7b3d-4e8f-a1c2-3d4e5f6a7b8c@smit.example",
        from_name="Jan Smit",
        from_address="jan@smit.example",
        subject="Re: Levering tegels [#1044]",
        # format=flowed: the soft line break after "Kunnen jullie" is joined again.
        text=(
            "Goedemiddag,\n\nDe tegels zijn geleverd, maar twee dozen zijn beschadigd. Kunnen jullie "
            "die vervangen? De chauffeur heeft het op de vrachtbrief gezet.\n\nMet vriendelijke groet,"
        ),
        attachments=(),
        contact_tag=1044,
        skip_reason=None,
    ),
    "auto_reply_nl.eml": dict(
        message_id="8a7f3c2e1d0b4c5a9e8f7d6c5b4a3f2e@AM0PR02MB5621.eurprd02.prod.outlook.com",
        from_name="Els de Boer",
        from_address="els@deboer.example",
        subject="Automatisch antwoord: Uw bestelling [#1042]",
        text="Ik ben afwezig tot en met 30 november. Voor dringende zaken kunt u bellen met 030-1234567.",
        attachments=(),
        contact_tag=1042,
        skip_reason="auto_reply",
    ),
    "bounce.eml": dict(
        message_id="20261123094502.4A1B2C3D4E@mx.handoff.example",
        from_name="Mail Delivery System",
        from_address="mailer-daemon@mx.handoff.example",
        subject="Undelivered Mail Returned to Sender",
        text=(
            "This is the mail system at host mx.handoff.example.\n\n"
            "I'm sorry to have to inform you that your message could not\n"
            "be delivered to one or more recipients.\n\n"
            "<nobody@nowhere.example>: host mx.nowhere.example[192.0.2.7] said: 550 5.1.1\n"
            "    <nobody@nowhere.example>: Recipient address rejected: User unknown"
        ),
        attachments=(),
        contact_tag=None,
        skip_reason="bounce",
    ),
    "mailing_list.eml": dict(
        message_id="nieuwsbrief-2026-11@vereniging.example",
        from_name="Board",
        from_address="board@vereniging.example",
        subject="[Leden] Nieuwsbrief november",
        text=(
            "Beste leden,\n\nDe jaarvergadering is op 12 december.\n"
            "_______________________________________________\nLeden mailing list"
        ),
        attachments=(),
        contact_tag=None,
        skip_reason="bulk",
    ),
    "inline_image_pdf.eml": dict(
        message_id="b7e1c9d2.4f3a@visser.example",
        from_name="Lotte Visser",
        from_address="lotte@visser.example",
        subject="Offerte en foto van de schade",
        # The plain alternative is blank, so the HTML one is read.
        text="Goedemorgen,\n\nHierbij de offerte en een foto van de schade:\n\nGroet,\nLotte",
        # The inline photo has no filename and is left out; the RFC 2231 name is decoded.
        attachments=(("logo.png", 1036), ("Offerte café €500.pdf", 20816)),
        contact_tag=None,
        skip_reason=None,
    ),
    "latin1.eml": dict(
        message_id="latin1-0001@hoogeveen.example",
        from_name="Renée Hoogeveen",
        from_address="renee@hoogeveen.example",
        subject="Reservering café voor de reünie",
        # Labelled ISO-8859-1 by a Windows client that wrote byte 0x80 for €.
        text=(
            "Goedendag,\n\nWij willen het café reserveren voor onze reünie op 12 december. "
            "Is € 25 per persoon haalbaar? Coördinatie via mij.\n\nRenée"
        ),
        attachments=(),
        contact_tag=None,
        skip_reason=None,
    ),
    "cp1252.eml": dict(
        message_id="cp1252-0001@martens.example",
        from_name="Gaël Martens",  # a raw 8-bit header
        from_address="gael@martens.example",
        subject="Factuur € 120",
        text=(
            "Beste,\n\nDe factuur van € 120 klopt niet: het “geënde” abonnement staat er nog op. "
            "Graag een creditnota voor het café.\n\nGr., Gaël"
        ),
        attachments=(),
        contact_tag=None,
        skip_reason=None,
    ),
    "bogus_charset.eml": dict(
        message_id="bogus-charset@example.org",
        from_name="Chloé",
        from_address="chloe@example.org",
        subject="Crème brûlée",
        text="Is de crème brûlée glutenvrij?",
        attachments=(),
        contact_tag=None,
        skip_reason=None,
    ),
    "broken_boundary.eml": dict(
        message_id="broken-boundary@example.net",
        from_name="Tom",
        from_address="tom@example.net",
        subject="Vraag over levering",
        text="Wordt er ook op zaterdag geleverd?",
        attachments=(),
        contact_tag=None,
        skip_reason=None,
    ),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_client_mail_reads_as_the_customer_wrote_it(name: str) -> None:
    mail = parse_mail(fixture(name))

    seen = {field: getattr(mail, field) for field in CORPUS[name]}
    assert seen == CORPUS[name]


def test_the_corpus_covers_every_fixture_file() -> None:
    assert {p.name for p in FIXTURES.glob("*.eml")} == {*CORPUS, "no_headers.eml"}


def test_a_reply_carries_its_thread_and_date() -> None:
    mail = parse_mail(fixture("gmail.eml"))

    assert mail.in_reply_to == "20261123094200.4713@handoff.example"
    assert mail.references == ("CAJ8a1=Qk3x@mail.gmail.com", "20261123094200.4713@handoff.example")
    assert mail.date == datetime(2026, 11, 23, 11, 20, 41, tzinfo=CET)


def test_the_original_keeps_the_quoted_history() -> None:
    mail = parse_mail(fixture("outlook_nl.eml"))

    assert mail.original.startswith("Goedemiddag,\n")
    assert mail.original.endswith(
        "Van: Klantenservice <support@handoff.example>\nVerzonden: maandag 23 november 2026 10:42\n"
        "Aan: Sanne Bakker <sanne@bakker.example>\nOnderwerp: Bestelling 88213 [#2077]\n\n"
        "Beste Sanne,\n\nUw pakket is onderweg."
    )


def test_the_original_of_an_html_mail_is_its_text() -> None:
    mail = parse_mail(fixture("outlook_en.eml"))

    assert "MsoNormal" not in mail.original
    assert "font-family" not in mail.original
    assert mail.original.endswith(
        "Subject: RE: Invoice 2026-1142 [#1042]\n\nHi Mark,\nWe have corrected the invoice."
    )


def test_a_message_without_any_header_still_gets_a_stable_id_and_its_text() -> None:
    mail = parse_mail(fixture("no_headers.eml"))
    other = parse_mail(b"Hallo, is de winkel zondag open?\n")

    assert mail.text == "Hallo, is de winkel zaterdag open?\n\nGroet, Piet"
    assert (mail.from_address, mail.from_name, mail.subject, mail.date) == (None, None, "", None)
    assert len(mail.message_id) == 64 and int(mail.message_id, 16) >= 0
    assert parse_mail(fixture("no_headers.eml")).message_id == mail.message_id
    assert other.message_id != mail.message_id


def test_a_missing_message_id_is_hashed_from_the_headers_however_the_lines_end() -> None:
    crlf = (
        b"From: a@x.nl\r\nTo: b@y.nl\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\nSubject: Hoi\r\n"
        b"\r\nTekst\r\n"
    )
    lf = crlf.replace(b"\r\n", b"\n")
    other_subject = lf.replace(b"Hoi", b"Hallo")

    assert parse_mail(crlf).message_id == parse_mail(lf).message_id
    assert parse_mail(other_subject).message_id != parse_mail(lf).message_id


@pytest.mark.parametrize(
    ("header", "message_id"),
    [
        ("Message-ID: <abc@x.nl>", "abc@x.nl"),
        ("Message-Id:   <abc@x.nl> (added by gateway)", "abc@x.nl"),
        ("Message-ID: abc@x.nl", "abc@x.nl"),
        ("Message-ID:\r\n <folded@x.nl>", "folded@x.nl"),
    ],
)
def test_message_ids_are_read_without_brackets(header: str, message_id: str) -> None:
    assert parse_mail(f"{header}\r\n\r\nx".encode()).message_id == message_id


@pytest.mark.parametrize("header", ["Message-ID: <>", "Message-ID: two words", "Message-ID:"])
def test_an_unusable_message_id_counts_as_missing(header: str) -> None:
    assert parse_mail(f"{header}\r\n\r\nx".encode()).message_id == parse_mail(b"\r\nx").message_id


def test_references_are_deduplicated_and_capped_keeping_the_thread_root() -> None:
    refs = " ".join(f"<r{i}@x>" for i in range(150))
    mail = parse_mail(f"References: <r0@x> {refs}\r\nIn-Reply-To: junk <r149@x>\r\n\r\nx".encode())

    assert len(mail.references) == 100
    assert mail.references[0] == "r0@x"
    assert mail.references[1:3] == ("r51@x", "r52@x")
    assert mail.references[-1] == "r149@x"
    assert mail.in_reply_to == "r149@x"


@pytest.mark.parametrize(
    ("header", "name", "address"),
    [
        ("From: =?utf-8?b?QW5uYSBKw6Fuc2Vu?= <ANNA@X.NL>", "Anna Jánsen", "anna@x.nl"),
        ("From: 'Anna Jansen' <anna@x.nl>", "Anna Jansen", "anna@x.nl"),
        ("From: anna@x.nl", None, "anna@x.nl"),
        ('From: "anna@x.nl" <anna@x.nl>', None, "anna@x.nl"),
        ("From: anna@x.nl (Anna Jansen)", "Anna Jansen", "anna@x.nl"),
        ("From: Anna", "Anna", None),
        ("From: Anna <not an address>", "Anna", None),
        ("From: undisclosed-recipients:;", None, None),
    ],
)
def test_the_sender_is_split_into_name_and_lowercase_address(
    header: str, name: str | None, address: str | None
) -> None:
    mail = parse_mail(f"{header}\r\n\r\nx".encode())

    assert (mail.from_name, mail.from_address) == (name, address)


@pytest.mark.parametrize(
    ("subject", "tag"),
    [
        ("Re: Uw vraag [#1042]", 1042),
        ("[#7] eerste [#8] tweede", 7),
        ("=?utf-8?q?Re=3A_=5B=2342=5D_caf=C3=A9?=", 42),
        ("Re: Uw vraag [# 1042]", None),
        ("Re: Uw vraag #1042", None),
        ("Re: [#٤٢]", None),  # Arabic-Indic digits are not our ids
        (f"Re: [#{'9' * 19}]", None),
    ],
)
def test_the_contact_tag_comes_from_the_subject(subject: str, tag: int | None) -> None:
    assert parse_mail(f"Subject: {subject}\r\n\r\nx".encode()).contact_tag == tag


@pytest.mark.parametrize(
    ("header", "date"),
    [
        ("Date: Mon, 23 Nov 2026 10:42:00 +0100", datetime(2026, 11, 23, 10, 42, tzinfo=CET)),
        ("Date: Mon, 23 Nov 2026 10:42:00 -0000", datetime(2026, 11, 23, 10, 42, tzinfo=UTC)),
        ("Date: 23 Nov 2026 10:42 GMT", datetime(2026, 11, 23, 10, 42, tzinfo=UTC)),
        ("Date: gisteren", None),
        ("Date: Mon, 23 Nov 99999 10:42:00 +0100", None),
        ("Date: Mon, 23 Nov 2026 10:42:00 +9999", None),
    ],
)
def test_the_date_is_aware_or_absent(header: str, date: datetime | None) -> None:
    assert parse_mail(f"{header}\r\n\r\nx".encode()).date == date


# --- quote, signature and footer removal ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "text"),
    [
        pytest.param(
            "Graag vandaag nog.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\n\nOud",
            "Graag vandaag nog.",
            id="outlook-original-message",
        ),
        pytest.param(
            "Graag vandaag nog.\n\n-----Oorspronkelijk bericht-----\nVan: Support\n\nOud",
            "Graag vandaag nog.",
            id="outlook-oorspronkelijk-bericht",
        ),
        pytest.param(
            "Prima.\n\nVan: Support <s@h.nl>\nVerzonden: maandag 23 november 2026 10:42\nAan: Anna\n"
            "CC: Piet\nOnderwerp: Afspraak\n\nOud bericht",
            "Prima.",
            id="outlook-header-block-nl",
        ),
        pytest.param(
            "Fine.\n\n*From:* Support <s@h.nl>\n*Date:* Monday, 23 November 2026\n*Subject:* Hi\n"
            "*To:* Anna\n\nOld",
            "Fine.",
            id="outlook-mac-header-block-bold-in-plain-text",
        ),
        pytest.param(
            "Dat klopt.\n\nOp ma 23 nov. 2026 om 10:42 schreef Anna Jansen <\nanna@x.nl>:\n\n> Oud",
            "Dat klopt.",
            id="gmail-nl-wrapped",
        ),
        pytest.param(
            "Dat klopt.\n\nOp 23-11-2026 om 10:42 schreef Anna Jansen:\n> Oud",
            "Dat klopt.",
            id="thunderbird-nl",
        ),
        pytest.param(
            "Right.\n\nOn 23/11/2026 10:42, Anna Jansen wrote:\n> Old",
            "Right.",
            id="thunderbird-en",
        ),
        pytest.param(
            "Right.\n\nOn 23 Nov 2026, at 10:42, Anna Jansen <anna@x.nl> wrote:\n\n> Old",
            "Right.",
            id="apple-mail-en",
        ),
        pytest.param(
            "Ja.\n\nOp 23 nov. 2026 om 10:42 heeft Anna Jansen <anna@x.nl> het volgende\n"
            "geschreven:\n\n> Oud",
            "Ja.",
            id="apple-mail-nl-wrapped",
        ),
        pytest.param("Yes please.\n\n> Shall we?\n>\n> Anna\n", "Yes please.", id="trailing-quote"),
        pytest.param(
            "> Can you come on Monday?\nYes.\n> And Tuesday?\nNo.\n\n> Thanks\n",
            "> Can you come on Monday?\nYes.\n> And Tuesday?\nNo.",
            id="interleaved-answers-stay",
        ),
        pytest.param("Tot morgen.\n\n-- \nJan Smit\n06-12345678", "Tot morgen.", id="signature"),
        pytest.param("Tot morgen.\n\nSent from my iPhone", "Tot morgen.", id="iphone-en"),
        pytest.param("Tot morgen.\n\nVerzonden vanaf mijn iPad", "Tot morgen.", id="ipad-nl"),
        pytest.param("Tot morgen.\n\nVerstuurd vanaf mijn Samsung Galaxy", "Tot morgen.", id="samsung-nl"),
        pytest.param(
            "Tot morgen.\n\nVerzonden vanuit Outlook voor iOS<https://aka.ms/o0ukef>",
            "Tot morgen.",
            id="outlook-ios-nl",
        ),
        pytest.param("Tot morgen.\n\nGet Outlook for Android", "Tot morgen.", id="outlook-android-en"),
        pytest.param("> Alleen een citaat\n> meer niet", "> Alleen een citaat\n> meer niet", id="only-quote"),
        pytest.param("-- \nJan Smit", "-- \nJan Smit", id="only-signature"),
        pytest.param(
            "On reflection, I wrote: the order is fine.\nThanks",
            "On reflection, I wrote: the order is fine.\nThanks",
            id="no-date-no-attribution",
        ),
        pytest.param(
            "Op zaterdag schreef ik u al:\nhet pakket is kapot.",
            "Op zaterdag schreef ik u al:\nhet pakket is kapot.",
            id="no-date-no-attribution-nl",
        ),
        pytest.param("From: the start\nof my text", "From: the start\nof my text", id="lone-from-line"),
        pytest.param("Groet,\nJan\n\n-----", "Groet,\nJan\n\n-----", id="closing-rule-without-quote"),
    ],
)
def test_only_the_new_text_is_kept(body: str, text: str) -> None:
    assert parse_mail(plain(body)).text == text


def test_the_new_text_is_capped_and_a_quote_far_down_does_not_matter() -> None:
    body = "regel\n" * 20_000 + "\nOn 23/11/2026 10:42, Anna wrote:\n> oud\n"

    mail = parse_mail(plain(body))

    assert len(mail.text) == TEXT_LIMIT
    assert mail.text.startswith("regel\nregel\n")
    assert mail.original.endswith("> oud")


# --- skip reasons -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ([("Subject", "Vraag over mijn bestelling")], None),
        ([("Auto-Submitted", "no")], None),
        ([("Auto-Submitted", "auto-replied")], "auto_reply"),
        ([("auto-submitted", "auto-generated; owner-email=x@y")], "auto_reply"),
        ([("X-Autoreply", "yes")], "auto_reply"),
        ([("X-Autorespond", "Out of office")], "auto_reply"),
        ([("Precedence", "auto_reply")], "auto_reply"),
        ([("Subject", "Automatic reply: Your order")], "auto_reply"),
        ([("Subject", "Automatisch antwoord: Uw bestelling")], "auto_reply"),
        ([("Subject", "Out of Office: Re: levering")], "auto_reply"),
        ([("Subject", "Afwezig tot 1 december")], "auto_reply"),
        ([("Subject", "Afwezigheidsmelding")], "auto_reply"),
        ([("Subject", "=?utf-8?q?Automatisch_antwoord=3A_x?=")], "auto_reply"),
        ([("Subject", "Re: Out of office chairs in stock?")], None),
        (
            [("Content-Type", 'multipart/report; report-type="disposition-notification"; boundary=x')],
            "auto_reply",
        ),
        ([("Precedence", "bulk")], "bulk"),
        ([("Precedence", "junk")], "bulk"),
        ([("Precedence", "list")], "bulk"),
        ([("List-Id", "<leden.lists.example>")], "bulk"),
        ([("List-Unsubscribe", "<mailto:leave@lists.example>")], "bulk"),
        ([("From", "MAILER-DAEMON")], "bounce"),
        ([("From", "Mail Delivery Subsystem <mailer-daemon@googlemail.com>")], "bounce"),
        ([("From", "postmaster@outlook.example")], "bounce"),
        ([("From", "postmaster.jansen@x.nl")], None),
        ([("Content-Type", "multipart/report; report-type=delivery-status; boundary=x")], "bounce"),
        ([("Content-Type", "multipart/mixed; report-type=delivery-status")], None),
        # A bounce is often marked automatic and sent as bulk too; the bounce is what matters.
        ([("Precedence", "bulk"), ("Auto-Submitted", "auto-replied"), ("From", "MAILER-DAEMON@x")], "bounce"),
        ([("Precedence", "bulk"), ("Auto-Submitted", "auto-replied")], "auto_reply"),
    ],
)
def test_mail_nobody_wrote_is_recognised(headers: list[tuple[str, str]], reason: str | None) -> None:
    assert classify(headers) == reason


# --- charsets ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("charset", "body", "text"),
    [
        pytest.param("x-bogus", "Café €5".encode("cp1252"), "Café €5", id="bogus-label-latin-bytes"),
        pytest.param('"utf-8"', "Café €5".encode("cp1252"), "Café €5", id="utf8-label-latin-bytes"),
        pytest.param(
            "utf-8",
            "Beste, één vraag over €5 — ".encode() + b"\xe9" + " groet, Zoë".encode(),
            "Beste, één vraag over €5 — \ufffd groet, Zoë",
            id="utf8-with-one-stray-byte",
        ),
        pytest.param("us-ascii", "Zoë".encode(), "Zoë", id="ascii-label-utf8-bytes"),
        pytest.param("unicode_escape", b"C:\\u0041 \\n", "C:\\u0041 \\n", id="escape-codec-is-no-charset"),
        pytest.param("rot13", b"Hallo", "Hallo", id="non-text-codec"),
        pytest.param("utf-16", b"\xff", "ÿ", id="undecodable-in-its-own-charset"),
        pytest.param("iso-8859-15", b"\xa4 5", "€ 5", id="latin-9"),
    ],
)
def test_bodies_decode_whatever_charset_they_claim(charset: str, body: bytes, text: str) -> None:
    assert parse_mail(plain(body, charset=charset)).text == text


# --- structure and attachments -------------------------------------------------------------------


def multipart(*parts: bytes, kind: str = "mixed", close: bool = True) -> bytes:
    body = b"".join(b"--b1\r\n" + part + b"\r\n" for part in parts)
    return (
        b"From: anna@x.nl\r\nMIME-Version: 1.0\r\nContent-Type: multipart/"
        + kind.encode()
        + b'; boundary="b1"\r\n\r\npreamble\r\n'
        + body
        + (b"--b1--\r\nepilogue\r\n" if close else b"")
    )


TEXT_PART = b"Content-Type: text/plain; charset=utf-8\r\n\r\nZie bijlage."


@pytest.mark.parametrize(
    ("part", "attachment"),
    [
        pytest.param(
            b'Content-Type: application/pdf; name="=?utf-8?q?Factuur_caf=C3=A9.pdf?="\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(b"%PDF" * 100),
            ("Factuur café.pdf", 400),
            id="rfc2047-name",
        ),
        pytest.param(
            b'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="C:\\Users\\'
            b'piet\\scan.pdf"\r\n\r\n12345',
            ("scan.pdf", 5),
            id="windows-path",
        ),
        pytest.param(
            b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment\r\n\r\n1234",
            ("attachment", 4),
            id="unnamed",
        ),
        pytest.param(
            b"Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n"
            b"From: x@y.nl\r\nSubject: doorgestuurd\r\n\r\nhallo\r\n",
            ("message.eml", 46),
            id="forwarded-mail",
        ),
        pytest.param(
            b"Content-Type: text/plain; name=notes.txt\r\nContent-Transfer-Encoding: quoted-printable"
            b"\r\n\r\ncaf=C3=A9",
            ("notes.txt", 5),
            id="named-text-is-no-body",
        ),
        pytest.param(
            b"Content-Type: application/pdf\r\nContent-Disposition: attachment;\r\n"
            b" filename*0*=utf-8''Lange%20naam%20;\r\n filename*1*=caf%C3%A9.pdf\r\n\r\nx",
            ("Lange naam café.pdf", 1),
            id="rfc2231-continuations",
        ),
        pytest.param(
            b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename*=idna''%ff\r\n\r\nx",
            ("ÿ", 1),
            id="hostile-rfc2231-charset",
        ),
    ],
)
def test_attachments_are_listed_by_name_and_decoded_size(part: bytes, attachment: tuple[str, int]) -> None:
    mail = parse_mail(multipart(TEXT_PART, part))

    assert mail.text == "Zie bijlage."
    assert mail.attachments == (attachment,)


def test_a_missing_close_delimiter_keeps_every_part() -> None:
    pdf = b"Content-Type: application/pdf; name=a.pdf\r\n\r\n123"
    mail = parse_mail(multipart(TEXT_PART, pdf, close=False))

    assert (mail.text, mail.attachments) == ("Zie bijlage.", (("a.pdf", 5),))


def test_a_multipart_without_any_boundary_is_shown_as_text() -> None:
    raw = b"Content-Type: multipart/mixed\r\n\r\nIk ben geen MIME.\r\n"

    assert parse_mail(raw).text == "Ik ben geen MIME."


def test_html_is_used_when_there_is_no_plain_text() -> None:
    html = b"Content-Type: text/html\r\n\r\n<p>Hoi &amp; <a href='https://x'>klik hier</a></p>"
    mail = parse_mail(multipart(b"Content-Type: text/plain\r\n\r\n \r\n", html, kind="alternative"))

    assert mail.text == "Hoi & klik hier"


def test_deep_nesting_neither_recurses_away_nor_fails() -> None:
    depth = 5000
    raw = b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n" + b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1) for i in range(depth)
    )
    raw += b"--b%d\r\nContent-Type: text/plain\r\n\r\ndiep\r\n" % depth

    mail = parse_mail(raw)

    assert mail.text == ""
    assert mail.attachments == ()


@pytest.mark.parametrize(
    ("html", "text"),
    [
        pytest.param(
            "<html><head><title>T</title><style>p {color: red}</style></head><body><p>Hoi</p>"
            "<script>alert(1)</script></body></html>",
            "Hoi",
            id="hidden-parts",
        ),
        pytest.param("<div>a</div><div><br></div><div>b</div>", "a\n\nb", id="gmail-empty-line"),
        pytest.param("<p>een</p><p>twee</p>", "een\n\ntwee", id="paragraphs"),
        pytest.param("regel 1<br>regel 2<br/>regel 3", "regel 1\nregel 2\nregel 3", id="br"),
        pytest.param("  veel \n\t  ruimte   hier ", "veel ruimte hier", id="whitespace-runs"),
        pytest.param("&euro; &lt;b&gt; &#233; &eacute;&nbsp;&amp;", "€ <b> é é &", id="entities"),
        pytest.param('<a href="https://x.example/">de link</a>.', "de link.", id="link-text"),
        pytest.param("<table><tr><td>a</td><td>b</td></tr></table>", "a b", id="table-cells"),
        pytest.param("<p>Hoi</p><blockquote><p>oud</p></blockquote>", "Hoi\n\n> oud", id="blockquote"),
        pytest.param("<p>x</p><pre>  a\n    b</pre>", "x\n\n  a\n    b", id="pre"),
        pytest.param("<head><style>x</style><body>zonder sluittag", "zonder sluittag", id="unclosed-head"),
        pytest.param("<p>a<![foo bar]>b</p>", "ab", id="unknown-marked-section"),
    ],
)
def test_html_becomes_readable_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


# --- size ------------------------------------------------------------------------------------------


def test_a_20_mb_attachment_is_counted_without_being_copied() -> None:
    data = os.urandom(15_000_000)
    pdf = (
        b"Content-Type: application/pdf; name=scan.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(data).replace(b"\n", b"\r\n")
    )
    raw = multipart(TEXT_PART, pdf)
    assert len(raw) > 20_000_000

    tracemalloc.start()
    try:
        mail = parse_mail(raw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert mail.text == "Zie bijlage."
    assert mail.attachments == (("scan.pdf", 15_000_000),)
    assert peak < 5_000_000


def test_a_20_mb_text_body_is_read_with_its_text_capped() -> None:
    line = "Hallo, dit is een lange regel met een é erin.\n"
    raw = plain(line * 430_000)
    assert len(raw) > 20_000_000

    tracemalloc.start()
    try:
        mail = parse_mail(raw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert len(mail.text) == TEXT_LIMIT
    assert len(mail.original) == len(line) * 430_000 - 1  # the final newline is trimmed
    # The raw message is 20 MB; its text and the few copies cleaning needs, not eight times that.
    assert peak < 6 * len(raw)


# --- never raises ---------------------------------------------------------------------------------


def check(mail: ParsedMail) -> None:
    assert mail.message_id
    assert len(mail.text) <= TEXT_LIMIT
    assert mail.date is None or mail.date.tzinfo is not None
    assert mail.skip_reason in {None, "bounce", "auto_reply", "bulk"}
    assert mail.from_address is None or mail.from_address == mail.from_address.lower()
    assert "\x00" not in mail.text + mail.original + mail.subject


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4000))
def test_random_bytes_never_raise(raw: bytes) -> None:
    check(parse_mail(raw))


MIME_BITS = st.sampled_from(
    [
        b"\r\n", b"\n", b"\n\n", b": ", b";", b"=", b'"', b"'", b"%", b"<", b">", b"--", b"=?", b"?=",
        b"?q?", b"?b?", b"\xe9", b"\xff", b"\x00", b"--b1\r\n", b"--b1--", b"Content-Type: ",
        b"multipart/mixed; boundary=b1", b"multipart/alternative", b"message/rfc822", b"text/html",
        b"charset=", b"idna", b"utf-16", b"x-bogus", b"Content-Transfer-Encoding: base64\r\n",
        b"quoted-printable", b"filename*=", b"filename*0*=", b"utf-8''", b"name=", b"<![foo",
        b"<p>", b"<br>", b"format=flowed", b"delsp=yes", b"> ", b"-- \n", b"report-type=delivery-status",
        b"[#", b"]", b"From: ", b"Date: ", b"Subject: ", b"Message-ID: ", b"References: ",
    ]
)  # fmt: skip
MUTATION = st.tuples(
    st.sampled_from(["replace", "insert", "delete", "duplicate"]),
    st.floats(min_value=0, max_value=1),
    st.floats(min_value=0, max_value=1),
    st.one_of(MIME_BITS, st.binary(min_size=1, max_size=8)),
)


def mutate(raw: bytes, mutations: list[tuple[str, float, float, bytes]]) -> bytes:
    for op, where, length, data in mutations:
        start = int(where * len(raw))
        end = min(len(raw), start + int(length * 200))
        if op == "replace":
            raw = raw[:start] + data + raw[end:]
        elif op == "insert":
            raw = raw[:start] + data + raw[start:]
        elif op == "delete":
            raw = raw[:start] + raw[end:]
        else:
            raw = raw[:end] + raw[start:end] + raw[end:]
    return raw


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(FIXTURES.glob("*.eml"))), st.lists(MUTATION, min_size=1, max_size=8))
def test_mutated_real_mail_never_raises(path: Path, mutations: list[tuple[str, float, float, bytes]]) -> None:
    check(parse_mail(mutate(path.read_bytes(), mutations)))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(MIME_BITS, st.binary(max_size=4)), max_size=60))
def test_mime_shaped_noise_never_raises(bits: list[bytes]) -> None:
    check(parse_mail(b"".join(bits)))
