"""Twilio: SMS, MMS and WhatsApp (``chatkit[twilio]``); the emulator also needs ``emulators``."""

from __future__ import annotations

from .adapter import EMPTY_TWIML, TwilioAdapter, TwilioSettings, twilio_state

__all__ = ["EMPTY_TWIML", "TwilioAdapter", "TwilioSettings", "twilio_state"]
