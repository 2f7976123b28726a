"""The e-mail channel: notifications sent through the SMTP server the settings name.

The message is rendered from ``notifications/email/subject.txt`` and ``body.txt`` (the
instance's ``templates/`` folder first, so a deployment can reword them) in the budgeted
sandbox every user-written template renders in (:func:`formflow.expressions.render_on_budget`):
an administrator's template with a loop of a billion turns is refused, not left to hold a
worker. It renders in the recipient's language: the engine's notifications are message ids,
and the templates' own words go through the same catalogue as the pages.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, StrictUndefined

from formflow.config import SmtpSettings
from formflow.definitions.model import Label
from formflow.expression_budget import Limits
from formflow.expression_sandbox import BudgetedSandbox
from formflow.expressions import render_on_budget
from formflow.notifications.model import Notification, Recipient

TIMEOUT_SECONDS = 20.0
CATALOGUES = Path(__file__).resolve().parents[1] / "translations"
LANGUAGES = ("zh", "en")


class EmailChannel:
    """Sends notifications by e-mail to the address on each person's account."""

    key = "email"
    label = Label(zh="电子邮件", en="E-mail")

    def __init__(self, smtp: SmtpSettings, templates: Path | None = None) -> None:
        self.smtp = smtp
        loaders: list[FileSystemLoader | PackageLoader] = [PackageLoader("formflow")]
        if templates is not None:
            loaders.insert(0, FileSystemLoader(templates))
        self._loader = ChoiceLoader(loaders)
        self._environments: dict[str, BudgetedSandbox] = {}
        self.limits = Limits()

    def send(self, notification: Notification, recipient: Recipient) -> bool:
        """E-mail ``notification`` to ``recipient``; ``False`` when they have no address."""
        if not recipient.email:
            return False
        self.send_message(self.message(notification, recipient))
        return True

    def send_message(self, message: EmailMessage) -> None:
        """Send a message already made (a plugin's e-mail blast, say) through the SMTP
        server, signed in when the settings give credentials; ``smtplib``'s errors pass."""
        with self._connect() as server:
            if self.smtp.user and self.smtp.password:
                server.login(self.smtp.user, self.smtp.password)
            server.send_message(message)

    def message(self, notification: Notification, recipient: Recipient) -> EmailMessage:
        """The e-mail for ``recipient``, in their language; :class:`ExpressionLimit` or
        :class:`ExpressionError` when a reworded template goes past its budget or fails."""
        language = recipient.language if recipient.language in LANGUAGES else "zh"
        catalogue = _catalogue(language)
        title, body = notification.text(catalogue.ugettext, language)
        environment = self._environment(language)
        names = {"title": title, "body": body, "recipient": recipient, "kind": notification.kind}
        subject = self._render(environment, "subject", names)
        text = self._render(environment, "body", names)
        message = EmailMessage()
        message["Subject"] = " ".join(subject.split())
        message["From"] = self.smtp.sender
        message["To"] = recipient.email
        message["Message-ID"] = f"<formflow-notification-{notification.id}@{self.smtp.host}>"
        message.set_content(text.strip() + "\n")
        return message

    def _render(self, environment: BudgetedSandbox, part: str, names: Mapping[str, Any]) -> str:
        """The e-mail's ``part`` (subject or body) on a budget of its own."""
        name = f"notifications/email/{part}.txt"
        return render_on_budget(lambda: environment.get_template(name), names, self.limits)

    def _environment(self, language: str) -> BudgetedSandbox:
        """The sandbox that renders e-mails in ``language``: one each, made once, so
        threads sending in different languages never share a catalogue."""
        found = self._environments.get(language)
        if found is None:
            found = BudgetedSandbox(
                loader=self._loader,
                autoescape=False,
                undefined=StrictUndefined,
                extensions=["jinja2.ext.i18n"],
            )
            found.install_gettext_translations(_catalogue(language), newstyle=True)  # type: ignore[attr-defined]
            self._environments[language] = found
        return found

    def _connect(self) -> smtplib.SMTP:
        smtp = self.smtp
        if smtp.security == "ssl":
            context = ssl.create_default_context()
            return smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=TIMEOUT_SECONDS, context=context)
        server = smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT_SECONDS)
        if smtp.security == "starttls":
            server.starttls(context=ssl.create_default_context())
        return server


@cache
def _catalogue(language: str) -> Translations | NullTranslations:
    """The interface catalogue for ``language`` (English is the message ids themselves)."""
    if language == "en":
        return NullTranslations()
    return Translations.load(str(CATALOGUES), [language])
