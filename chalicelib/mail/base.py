"""What a mail transport offers; failures leave as MailError (the job retries them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class MailError(Exception):
    """The message was not accepted; the text names the transport's reason (never credentials)."""


@dataclass(frozen=True)
class Message:
    sender: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str = ""


class Mailer(Protocol):
    def send(self, message: Message) -> str:
        """Hand the message over; returns the transport's message id. Raises MailError."""
        ...


class NoMailer:
    """No transport configured: every send fails with a message that says how to configure one."""

    def send(self, message: Message) -> str:
        raise MailError("no mail transport is configured (FNGATE_MAIL=smtp with FNGATE_SMTP_HOST, or ses)")
