"""A notification channel for Formflow that posts to a chat room: here, a list the tests
read, so they see what a channel from a plugin is handed and when."""

from __future__ import annotations

from formflow import hookimpl
from formflow.definitions.model import Label
from formflow.notifications import Notification, Recipient


class ChatRoom:
    """Keeps what it was sent; ``failures`` makes the next sends raise, as a room that is
    down would."""

    key = "chat"
    label = Label(zh="聊天群", en="Chat room")

    def __init__(self) -> None:
        self.posts: list[tuple[str, str]] = []
        self.failures = 0

    def send(self, notification: Notification, recipient: Recipient) -> bool:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the chat room did not answer")
        title, _body = notification.text(language=recipient.language)
        self.posts.append((recipient.username, title))
        return True


ROOM = ChatRoom()


@hookimpl
def formflow_notification_channels() -> list[ChatRoom]:
    return [ROOM]
