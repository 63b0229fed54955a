"""Where and how chatkit sends e-mail (transcripts, notifications)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["SMTPSettings"]


class SMTPSettings(BaseModel):
    """Where and how to send e-mail.

    Attributes:
        host: SMTP server.
        port: Port (587 with STARTTLS, 465 with implicit TLS, 25 plain).
        sender: The From address.
        username: Login, if the server wants one.
        password: Password (never shown in ``repr`` or logs).
        starttls: Upgrade the connection with STARTTLS.
        use_tls: Connect with implicit TLS (port 465).
        timeout: Seconds before giving up.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    port: int = Field(default=587, ge=1, le=65535)
    sender: str
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    use_tls: bool = False
    timeout: float = Field(default=30.0, gt=0)
