"""Sending email: one Mailer protocol, SMTP (local; host/port/TLS/credentials configurable) and SES (AWS)."""

from chalicelib.config import Settings
from chalicelib.mail.base import Mailer, MailError, Message, NoMailer
from chalicelib.mail.smtp import SmtpMailer

__all__ = ["MailError", "Mailer", "Message", "NoMailer", "SmtpMailer", "build_mailer"]


def build_mailer(settings: Settings) -> Mailer:
    """The transport ``settings.mail`` names: smtp (host, port, TLS, credentials), ses, or none."""
    if settings.mail == "ses":
        from chalicelib.mail.ses import SesMailer

        return SesMailer(region_name=settings.region or None)
    if settings.mail == "smtp":
        return SmtpMailer(settings.smtp_host or "localhost", settings.smtp_port, tls=settings.smtp_tls,
                          username=settings.smtp_user, password=settings.smtp_password)
    return NoMailer()
