"""Made-up values, each drawn from a seeded random generator (the same seed, the same values)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import phonenumbers
from stdnum.cn import uscc

from .words import GIVEN, MOBILE_PREFIXES, PLACES, SURNAMES, TRADE_NAMES, TRADES, Place


@dataclass(frozen=True)
class Person:
    name: str
    gender: str
    pinyin: str  # surname then given name, as mail addresses use it


@dataclass(frozen=True)
class Company:
    name: str
    short_name: str
    industry: str
    place: Place
    district: str
    address: str
    credit_code: str
    phone: str | None
    domain: str


def organization_code(rng: random.Random) -> str:
    """A nine-character organisation code with its GB 11714 check character."""
    body = "".join(rng.choice("0123456789") for _ in range(8))
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    check = 11 - sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def credit_code(rng: random.Random, division_code: str) -> str:
    """A unified social credit code for a company registered in ``division_code``.

    ``9`` (registered with the market regulator), ``1`` (an enterprise), the division, the
    organisation code and the check character of GB 32100-2015.
    """
    first17 = "91" + division_code + organization_code(rng)
    return first17 + uscc.calc_check_digit(first17)


def mobile(rng: random.Random) -> str:
    while True:
        number = rng.choice(MOBILE_PREFIXES) + "".join(rng.choice("0123456789") for _ in range(8))
        if phonenumbers.is_valid_number(phonenumbers.parse(number, "CN")):
            return number


def landline(rng: random.Random, place: Place) -> str | None:
    for _ in range(5):
        digits = rng.choice("5678") + "".join(
            rng.choice("0123456789") for _ in range(place.landline_digits - 1)
        )
        number = f"0{place.area_code}-{digits}"
        if phonenumbers.is_valid_number(phonenumbers.parse(number, "CN")):
            return number
    return None


def person(rng: random.Random) -> Person:
    surname, surname_pinyin = rng.choice(SURNAMES)
    gender = rng.choice(("male", "female"))
    given = [rng.choice(GIVEN[gender]) for _ in range(rng.choice((1, 2, 2)))]
    name = surname + "".join(char for char, _ in given)
    return Person(name, gender, surname_pinyin + "".join(sound for _, sound in given))


def company(
    rng: random.Random, taken: set[tuple[str, str]], places: Sequence[Place] = PLACES
) -> Company:
    """A company whose trade name and line of business are not in ``taken`` (then are)."""
    while True:
        trade_name, trade_pinyin = rng.choice(TRADE_NAMES)
        trade, industry, mark, trade_short = rng.choice(TRADES)
        if (trade_name, trade) not in taken:
            taken.add((trade_name, trade))
            break
    place = rng.choice(places)
    form = rng.choices(("有限公司", "股份有限公司", "集团有限公司"), weights=(16, 3, 1))[0]
    if rng.random() < 0.15:
        name = f"{trade_name}（{place.short}）{trade}{form}"
    else:
        name = f"{place.short}{trade_name}{trade}{form}"
    district, code = rng.choice(place.districts)
    street = rng.choice(place.streets)
    address = f"{place.province}{'' if place.city == place.province else place.city}{district}{street}{rng.randint(1, 999)}号"
    if rng.random() < 0.5:
        address += f"{rng.choice('ABCDE')}座{rng.randint(2, 28)}{rng.randint(1, 20):02d}室"
    return Company(
        name=name,
        short_name=trade_name + trade_short,
        industry=industry,
        place=place,
        district=district,
        address=address,
        credit_code=credit_code(rng, code),
        phone=landline(rng, place),
        domain=f"{trade_pinyin}{mark}.com.cn",
    )
