"""Google Analytics 4: chat events through the Measurement Protocol (outbound only).

`GA4Integration` is registered as the ``ga4`` integration; `emulator.GA4Emulator`
(``chatkit emulate ga4``) serves the Measurement Protocol locally for tests.
"""
