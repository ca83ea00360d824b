"""Recognising one customer across channels: normalised identities, labels, learning."""

from __future__ import annotations

import pytest

from handoff_bot.domain.customers import (
    Customer,
    Identity,
    IdentityKind,
    normalise_email,
    normalise_handle,
    normalise_phone,
)
from handoff_bot.domain.errors import InvalidIdentity

EMAIL, PHONE, SOCIAL = IdentityKind.EMAIL, IdentityKind.PHONE, IdentityKind.SOCIAL


@pytest.mark.parametrize(
    "raw",
    ["jan@jansen.nl", "Jan@Jansen.NL", "  jan@jansen.nl\n", "\tJAN@JANSEN.NL "],
)
def test_email_is_trimmed_and_lowercased(raw: str) -> None:
    assert normalise_email(raw) == Identity(EMAIL, "jan@jansen.nl")


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "jan", "jan@", "@jansen.nl", "jan@jansen", "jan@@jansen.nl", "jan jansen@x.nl", "j@x.n"],
)
def test_an_invalid_email_names_the_field_and_keeps_the_raw_value(raw: str) -> None:
    with pytest.raises(InvalidIdentity) as raised:
        normalise_email(raw)

    assert (raised.value.field, raised.value.value) == ("email", raw)


def test_an_overlong_email_is_invalid() -> None:
    with pytest.raises(InvalidIdentity):
        normalise_email("a" * 64 + "@" + "b" * 190 + ".nl")


@pytest.mark.parametrize("raw", ["06-12345678", "+31 6 1234 5678", "0031612345678", " 06 12 34 56 78 "])
def test_dutch_ways_of_writing_one_mobile_number_are_one_identity(raw: str) -> None:
    assert normalise_phone(raw) == Identity(PHONE, "+31612345678")


def test_a_belgian_number_stays_belgian() -> None:
    assert normalise_phone("+32 470 12 34 56") == Identity(PHONE, "+32470123456")


def test_a_national_number_is_read_in_the_given_region() -> None:
    assert normalise_phone("0470 12 34 56", region="BE") == Identity(PHONE, "+32470123456")


@pytest.mark.parametrize("raw", ["", "hello", "12", "+31 6", "call me maybe"])
def test_garbage_is_not_a_phone_number(raw: str) -> None:
    with pytest.raises(InvalidIdentity) as raised:
        normalise_phone(raw)

    assert (raised.value.field, raised.value.value) == ("phone", raw)


@pytest.mark.parametrize(
    ("raw", "network"),
    [
        ("instagram:@Jansen", None),
        ("@Jansen", "instagram"),
        ("Jansen", "Instagram"),
        (" instagram : @jansen ", None),
    ],
)
def test_handles_are_network_qualified_and_lowercased(raw: str, network: str | None) -> None:
    assert normalise_handle(raw, network) == Identity(SOCIAL, "instagram:jansen")


def test_a_handle_without_network_is_filed_under_other() -> None:
    assert normalise_handle("@jan.jansen-1") == Identity(SOCIAL, "other:jan.jansen-1")


def test_an_explicit_network_keeps_a_colon_in_the_handle_invalid() -> None:
    with pytest.raises(InvalidIdentity):
        normalise_handle("instagram:jansen", "facebook")


@pytest.mark.parametrize(
    ("raw", "network"),
    [("@", "instagram"), ("", None), ("jan jansen", "x"), ("jansen", "bad network"), ("instagram:", None)],
)
def test_an_invalid_handle_names_the_field(raw: str, network: str | None) -> None:
    with pytest.raises(InvalidIdentity) as raised:
        normalise_handle(raw, network)

    assert (raised.value.field, raised.value.value) == ("handle", raw)


@pytest.mark.parametrize(
    ("customer", "label"),
    [
        (Customer(1, "Jan Jansen", "Acme"), "Jan Jansen (Acme)"),
        (Customer(1, "Jan Jansen"), "Jan Jansen"),
        (Customer(1, None, "Acme"), "Acme"),
        (
            Customer(1, identities={Identity(SOCIAL, "x:jan"), Identity(PHONE, "+31612345678")}),
            "+31612345678",
        ),
        (
            Customer(1, identities={Identity(PHONE, "+31612345678"), Identity(EMAIL, "jan@jansen.nl")}),
            "jan@jansen.nl",
        ),
        (Customer(9), "#9"),
    ],
)
def test_label_prefers_name_and_company_then_the_first_identity_then_the_id(
    customer: Customer, label: str
) -> None:
    assert customer.label == label


def test_learn_fills_gaps_and_never_overwrites() -> None:
    known = Identity(EMAIL, "jan@jansen.nl")
    new = Identity(PHONE, "+31612345678")
    customer = Customer(1, name="Jan Jansen", company=None, owner_id=5, identities={known})

    customer.learn("J. Jansen", "Acme", {new})
    customer.learn("Someone Else", "Other BV", set())

    assert (customer.name, customer.company, customer.owner_id) == ("Jan Jansen", "Acme", 5)
    assert customer.identities == {known, new}


def test_learn_gives_a_nameless_customer_a_name() -> None:
    customer = Customer(1)

    customer.learn("Jan", None, set())

    assert (customer.name, customer.company, customer.label) == ("Jan", None, "Jan")
