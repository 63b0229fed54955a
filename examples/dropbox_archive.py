"""Resolved chats archived in Dropbox, offline. Needs chatkit[emulators,dropbox].

Two chats are resolved; the sync engine writes each transcript (JSON and
HTML) to the Dropbox emulator that ships with chatkit, through the official
``dropbox`` SDK; a retention purge then removes one archive, while a legal
hold keeps the other:

    pip install 'chatkit[emulators,dropbox]'
    python examples/dropbox_archive.py

Without those extras it exits with that hint.

Against a real Dropbox, drop the emulator and set ``CHATKIT_DROPBOX_APP_KEY``,
``CHATKIT_DROPBOX_APP_SECRET`` and ``CHATKIT_DROPBOX_REFRESH_TOKEN``; then
``kit.sync.engine("dropbox")`` (or ``chatkit sync run dropbox``) does the same.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from chatkit import AsyncChatKit, Author
from chatkit.models import utcnow

HINT = "this example needs the Dropbox emulator and SDK: pip install 'chatkit[emulators,dropbox]'"

try:
    from chatkit_integrations.dropbox.emulator import DropboxEmulator
except ImportError:  # an extra is missing: say what to install, in one line
    sys.exit(HINT)


async def main(folder: Path, box: DropboxEmulator) -> None:
    try:  # after the emulator set DROPBOX_API_HOST: the SDK reads it when imported
        from chatkit_integrations.dropbox.integration import DropboxConfig, DropboxIntegration
    except ImportError:
        sys.exit(HINT)
    config = DropboxConfig(
        app_key=box.state.app_key,
        app_secret=box.state.app_secret,  # type: ignore[arg-type]
        refresh_token=box.state.refresh_token,  # type: ignore[arg-type]
        path_template="/chatkit/{year}/{month}/{team}/{conversation_id}.{ext}",
        ca_bundle=box.ca_pem,
    )
    async with AsyncChatKit(f"sqlite:///{folder / 'support.db'}") as kit:
        await kit.teams.create("Billing")
        chats = []
        for name in ("Ada", "Grace"):
            contact = await kit.contacts.create(name=name)
            chat = await kit.conversations.create(contact_id=contact.id)
            await kit.messages.send(
                chat.id, "Was I charged twice?", author=Author.customer(contact.id)
            )
            await kit.routing.transfer(chat.id, to_team="Billing")
            await kit.conversations.resolve(chat.id)
            chats.append(chat.id)
        kept, purged = chats
        await kit.retention.hold(conversation_id=kept, reason="dispute 2026-114")

        async with kit.sync.engine(DropboxIntegration(config)) as engine:
            report = await engine.run_once()
            print(f"archived {len(box.state.paths())} files in {box.state.call_count()} calls")
            for path in box.state.paths():
                print(f"  {path.replace(kept, '<held>').replace(purged, '<purged>')}")

            await kit.retention.purge(now=utcnow() + timedelta(days=3650))
            report = await engine.run_once()
            print(f"after the purge ({report.pushed} change): {len(box.state.paths())} files")
            for path in box.state.paths():
                print(f"  {path.replace(kept, '<held>').replace(purged, '<purged>')}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp, DropboxEmulator() as box:
        os.environ.update(box.environ())
        asyncio.run(main(Path(tmp), box))
