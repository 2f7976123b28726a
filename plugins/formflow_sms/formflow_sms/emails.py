"""E-mail blasts (邮件群发): the same recipients, template and preview as SMS blasts, sent
through the instance's SMTP server with Formflow's e-mail channel.

One template gives both parts of each message: the text as written, and an HTML part with
the text escaped, its blank lines as paragraphs and its line breaks kept. The subject is a
template too, filled with the recipient record's fields when the message is sent. Every
message ends with the recipient's unsubscribe link and carries it in the
``List-Unsubscribe`` headers (see :mod:`formflow_sms.unsubscribe`); an address the mail
server refuses outright is a bounce.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.utils import make_msgid
from html import escape
from typing import Any

from formflow.notifications.email import EmailChannel
from formflow_sms.blasts import render
from formflow_sms.providers import Bounced, PermanentFailure, TemporaryFailure

UNSUBSCRIBE = "退订 / Unsubscribe"


def html_of(text: str) -> str:
    """The HTML part of a message whose text part is ``text``."""
    paragraphs = [part for part in re.split(r"\n\s*\n", text.strip()) if part.strip()]
    return "".join(
        "<p>" + escape(part.strip()).replace("\n", "<br>\n") + "</p>\n" for part in paragraphs
    )


class EmailProvider:
    """Sends each recipient's message as an e-mail; the provider id is its Message-ID."""

    key = "email"

    def __init__(
        self,
        channel: EmailChannel,
        subject: str,
        unsubscribe_link: Callable[[Mapping[str, Any]], str] | None = None,
    ) -> None:
        self.channel = channel
        self.subject = subject
        self.unsubscribe_link = unsubscribe_link

    def message(self, to: str, text: str, params: Mapping[str, Any]) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = " ".join(render(self.subject, params).split())
        message["From"] = self.channel.smtp.sender
        message["To"] = to
        message["Message-ID"] = make_msgid(domain=self.channel.smtp.host)
        link = self.unsubscribe_link(params) if self.unsubscribe_link else None
        footer, html_footer = "", ""
        if link:
            message["List-Unsubscribe"] = f"<{link}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            footer = f"\n\n--\n{UNSUBSCRIBE}: {link}"
            html_footer = f'<p><a href="{escape(link)}">{escape(UNSUBSCRIBE)}</a></p>\n'
        message.set_content(text.strip() + footer + "\n")
        message.add_alternative(html_of(text) + html_footer, subtype="html")
        return message

    def send(self, to: str, text: str, params: Mapping[str, Any]) -> str:
        message = self.message(to, text, params)
        try:
            self.channel.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise Bounced(f"refused: {exc.recipients}") from None
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from None
            raise TemporaryFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"unreachable: {exc}") from None
        return str(message["Message-ID"])[:100]
