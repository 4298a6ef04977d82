"""Amazon SES delivery (SendEmail); boto3 is imported only when no client is handed in."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.mail.base import MailError, Message


class SesMailer:
    def __init__(self, client: Any = None, region_name: str | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("ses", region_name=region_name)
        self._ses = client

    def send(self, message: Message) -> str:
        body: dict[str, Any] = {"Text": {"Data": message.text, "Charset": "UTF-8"}}
        if message.html:
            body["Html"] = {"Data": message.html, "Charset": "UTF-8"}
        try:
            out = self._ses.send_email(Source=message.sender, Destination={"ToAddresses": list(message.to)},
                                       Message={"Subject": {"Data": message.subject, "Charset": "UTF-8"},
                                                "Body": body})
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise MailError(f"SES: {error.get('Code', 'error')}: {error.get('Message', '')}") from None
        except BotoCoreError as exc:
            raise MailError(f"SES: {type(exc).__name__}: {exc}") from None
        return str(out["MessageId"])
