"""Kinds of personal data the world writes that the masker lacked (issue 28): MAC addresses,
@handles, dates of birth in context, passport numbers and licence plates after their word, IBANs in
any case (checksum-validated), e-mails spaced or bracketed; and look-alikes that must stay (versions
are not IP addresses, prose with "at" is not an e-mail)."""

from __future__ import annotations

import pytest

from pipelines.methods.privacy import masker
from pipelines.methods.privacy.recognizers import iban_ok

FOUND = [
    ("Write to bob.jones @ gmail . com today", "Write to <EMAIL> today"),
    ("mail maria[at]outlook[.]es please", "mail <EMAIL> please"),
    ("my iban is de89 3704 0044 0532 0130 00 ok", "my iban is <IBAN> ok"),
    ("pay to GB82WEST12345698765432 now", "pay to <IBAN> now"),
    ("the router is 00:1A:2B:3C:4D:5E and 0011.2233.4455", "the router is <MAC> and <MAC>"),
    ("the card 00-1a-2b-3c-4d-5e failed", "the card <MAC> failed"),
    ("follow me @jane_doe99 on insta", "follow me @<USER> on insta"),
    ("I was born on 12 March 1990 in a town", "I was born on <DOB> in a town"),
    ("DOB: 1990-03-12.", "DOB: <DOB>."),
    ("her birthday is March 4th, 1987, so", "her birthday is <DOB>, so"),
    ("née le 3 avril 1975 à Lyon", "née le <DOB> à Lyon"),
    ("my passport number is 123456789.", "my passport number is <PASSPORT>."),
    ("Reisepass Nr. C01X00T47 verloren", "Reisepass Nr. <PASSPORT> verloren"),
    ("passeport 12AB34567 expiré", "passeport <PASSPORT> expiré"),
    ("license plate ABC 1234 was seen", "license plate <PLATE> was seen"),
    ("Kennzeichen B-MW 1234", "Kennzeichen <PLATE>"),
    ("The plate number is AB12 CDE.", "The plate number is <PLATE>."),
]
KEPT = [
    "upgrade to version 4.2.1.7 now",
    "v1.2.3 release notes",
    "The Fibonacci sequence grows fast.",
    "meet at noon. com",
    "we met at home.com yesterday",
    "my plate was stolen",
    "it was 10:30 am on 12 March 1990",  # a date, but nobody's birth
    "I was born in a small town",
    "email me @ 5pm",
    "the passport office was closed",
    "Python 3.12.1.4 and node 20.1.0.3",
    "ratio 1:2:3:4:5:6 of the mix",
]


@pytest.fixture(scope="module")
def m():
    return masker(ner=False)


@pytest.mark.parametrize(("text", "masked"), FOUND)
def test_found(m, text, masked):
    assert m.mask([text])[0][0] == masked


@pytest.mark.parametrize("text", KEPT)
def test_look_alikes_are_kept(m, text):
    assert m.mask([text])[0][0] == text


def test_iban_checksum():
    assert iban_ok("DE89 3704 0044 0532 0130 00") and iban_ok("de89370400440532013000")
    assert not iban_ok("DE88 3704 0044 0532 0130 00") and not iban_ok("DE89")
