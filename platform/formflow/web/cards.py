"""A list's records as compact cards, for phones: a title, a subtitle and a few badges.

A form's ``list: card:`` names the fields; the list page reads them with its columns and
the stylesheet shows the cards instead of the table below 640 px, so a phone screen holds
several records rather than one tall stack of labelled cells.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from formflow.definitions.model import Form
from formflow.records import Record
from formflow.web.display import Displayer, Shown
from formflow.web.i18n import text


@dataclass(frozen=True)
class Badge:
    """A small value: plain text (a phone number or a link is not a second, tiny tap
    target inside the card), with its option's colour."""

    label: str
    text: str
    color: str | None = None


@dataclass(frozen=True)
class CardView:
    record_id: int
    href: str
    title: str
    subtitle: Shown | None
    badges: list[Badge]


def card_keys(form: Form, hidden: Collection[str]) -> list[str]:
    """The fields the form's card shows that the reader may see."""
    card = form.list_view.card
    return [] if card is None else [key for key in card.fields if key not in hidden]


def card_views(
    shower: Displayer,
    form: Form,
    rows: Sequence[Record],
    record_url: Callable[[str, int], str],
    hidden: Collection[str],
) -> list[CardView] | None:
    """One card per row, or ``None`` when the form declares no card."""
    card = form.list_view.card
    if card is None:
        return None
    shown = set(card_keys(form, hidden))
    views = []
    for record in rows:
        title = shower.cell(form, card.title, record).short() if card.title in shown else None
        subtitle = card.subtitle if card.subtitle in shown else None
        views.append(
            CardView(
                record_id=record["id"],
                href=record_url(form.key, record["id"]),
                title=(title.text if title else "") or f"#{record['id']}",
                subtitle=shower.cell(form, subtitle, record).short() if subtitle else None,
                badges=[
                    _badge(_label(form, key), shower.cell(form, key, record).short())
                    for key in card.badges
                    if key in shown and record.get(key) not in (None, "", [])
                ],
            )
        )
    return views


def _label(form: Form, key: str) -> str:
    return text(form.field(key).label) if form.has_field(key) else key


def _badge(label: str, shown: Shown) -> Badge:
    if shown.kind == "list":
        return Badge(label, ", ".join(item.text for item in shown.items))
    return Badge(label, shown.text, shown.color)
