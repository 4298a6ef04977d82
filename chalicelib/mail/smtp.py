"""SMTP delivery (smtplib): plain, STARTTLS or implicit TLS, optional login."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from chalicelib.mail.base import MailError, Message

TLS_MODES = ("none", "starttls", "ssl")


def to_email(message: Message) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = message.sender, ", ".join(message.to), message.subject
    mail["Message-ID"] = make_msgid(domain=message.sender.rpartition("@")[2] or "fngate.local")
    mail.set_content(message.text)
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    return mail


class SmtpMailer:
    def __init__(self, host: str, port: int = 25, *, tls: str = "none", username: str = "", password: str = "",
                 timeout_s: float = 10.0, context: ssl.SSLContext | None = None) -> None:
        if tls not in TLS_MODES:
            raise ValueError(f"SMTP TLS mode is one of {TLS_MODES}, not {tls!r}")
        self._host, self._port, self._tls, self._timeout = host, port, tls, timeout_s
        self._username, self._password = username, password
        self._context = context or ssl.create_default_context()

    def __repr__(self) -> str:  # never the password
        return f"SmtpMailer({self._host}:{self._port}, tls={self._tls})"

    def send(self, message: Message) -> str:
        mail = to_email(message)
        try:
            with self._connect() as smtp:
                if self._tls == "starttls":
                    smtp.starttls(context=self._context)
                if self._username:
                    smtp.login(self._username, self._password)
                smtp.send_message(mail)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"SMTP {self._host}:{self._port}: {type(exc).__name__}: {exc}") from None
        return str(mail["Message-ID"])

    def _connect(self) -> smtplib.SMTP:
        if self._tls == "ssl":
            return smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=self._context)
        return smtplib.SMTP(self._host, self._port, timeout=self._timeout)
