"""Notifications are written with their cause, counted unread by index, listed newest
first and marked read one at a time or all at once."""

from __future__ import annotations

import pytest
from notify_people import People
from sqlalchemy import Engine

from formflow.notifications import Notifications, UnknownNotification
from formflow.records.unit import unit_of_work
from formflow.storage.database import write_transaction


class Rollback(Exception):
    pass


def add(engine: Engine, notifications: Notifications, user_id: int, title: str = "Hi") -> int:
    with write_transaction(engine) as connection:
        (written,) = notifications.add(connection, [user_id], kind="note", title=title)
    return written


def unread(engine: Engine, notifications: Notifications, user_id: int) -> int:
    with engine.connect() as connection:
        return notifications.unread_count(connection, user_id)


def test_a_notification_written_in_a_unit_that_rolls_back_is_gone(
    engine: Engine, people: People
) -> None:
    notifications = Notifications(engine)

    def write_then_fail() -> None:
        with unit_of_work(engine) as unit:
            notifications.add(unit.connection, [people.ann], kind="note", title="Hi")
            raise Rollback()

    with pytest.raises(Rollback):
        write_then_fail()
    assert unread(engine, notifications, people.ann) == 0


def test_the_unread_count_is_per_person(engine: Engine, people: People) -> None:
    notifications = Notifications(engine)
    add(engine, notifications, people.ann)
    add(engine, notifications, people.ann)
    add(engine, notifications, people.bo)
    assert unread(engine, notifications, people.ann) == 2
    assert unread(engine, notifications, people.bo) == 1


def test_a_list_is_newest_first_and_pages_by_id(engine: Engine, people: People) -> None:
    notifications = Notifications(engine)
    ids = [add(engine, notifications, people.ann, f"n{index}") for index in range(5)]
    with engine.connect() as connection:
        first = notifications.list_for(connection, people.ann, limit=2)
        second = notifications.list_for(connection, people.ann, limit=2, before=first[-1].id)
    assert [found.id for found in first + second] == ids[::-1][:4]


def test_marking_one_read_leaves_the_others_unread(engine: Engine, people: People) -> None:
    notifications = Notifications(engine)
    first = add(engine, notifications, people.ann)
    add(engine, notifications, people.ann)
    with write_transaction(engine) as connection:
        marked = notifications.mark_read(connection, people.ann, first)
    assert not marked.unread
    assert unread(engine, notifications, people.ann) == 1


def test_nobody_marks_someone_elses_notification(engine: Engine, people: People) -> None:
    notifications = Notifications(engine)
    theirs = add(engine, notifications, people.ann)
    with pytest.raises(UnknownNotification), write_transaction(engine) as connection:
        notifications.mark_read(connection, people.bo, theirs)
    assert unread(engine, notifications, people.ann) == 1


def test_mark_all_read_clears_the_count(engine: Engine, people: People) -> None:
    notifications = Notifications(engine)
    for _ in range(3):
        add(engine, notifications, people.ann)
    with write_transaction(engine) as connection:
        assert notifications.mark_all_read(connection, people.ann) == 3
    assert unread(engine, notifications, people.ann) == 0


def test_one_cause_tells_a_person_once(engine: Engine, people: People) -> None:
    notifications = Notifications(engine)
    for _ in range(2):
        with write_transaction(engine) as connection:
            notifications.add(connection, [people.ann], kind="note", title="Hi", cause="event:7")
    assert unread(engine, notifications, people.ann) == 1
