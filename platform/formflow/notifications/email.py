"""The e-mail channel: notifications sent through the SMTP server the settings name.

The message is rendered from ``notifications/email/subject.txt`` and ``body.txt`` (the
instance's ``templates/`` folder first, so a deployment can reword them) in Jinja2's
sandbox, in the recipient's language: the engine's notifications are message ids, and the
templates' own words go through the same catalogue as the pages.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from formflow.config import SmtpSettings
from formflow.definitions.model import Label
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
        self._environments: dict[str, SandboxedEnvironment] = {}

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
        """The e-mail for ``recipient``, in their language."""
        language = recipient.language if recipient.language in LANGUAGES else "zh"
        catalogue = _catalogue(language)
        title, body = notification.text(catalogue.ugettext, language)
        environment = self._environment(language)
        names = {"title": title, "body": body, "recipient": recipient, "kind": notification.kind}
        subject = environment.get_template("notifications/email/subject.txt").render(names)
        text = environment.get_template("notifications/email/body.txt").render(names)
        message = EmailMessage()
        message["Subject"] = " ".join(subject.split())
        message["From"] = self.smtp.sender
        message["To"] = recipient.email
        message["Message-ID"] = f"<formflow-notification-{notification.id}@{self.smtp.host}>"
        message.set_content(text.strip() + "\n")
        return message

    def _environment(self, language: str) -> SandboxedEnvironment:
        """The sandbox that renders e-mails in ``language``: one each, made once, so
        threads sending in different languages never share a catalogue."""
        found = self._environments.get(language)
        if found is None:
            found = SandboxedEnvironment(
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
