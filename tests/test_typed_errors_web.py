"""Typed errors for bad arguments of the websites, webhooks and web-app entry points."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from chatkit import AsyncChatKit, ConfigurationError, InvalidInputError, NotFoundError

pytestmark = pytest.mark.anyio


async def test_a_website_key_no_store_can_look_up_is_simply_unknown(tmp_path: Path) -> None:
    async with AsyncChatKit(f"sqlite:///{tmp_path}/k.db") as kit:
        for key in ("\ud800", "clé", 5):
            with pytest.raises(NotFoundError):
                await kit.websites.by_key(key)  # type: ignore[arg-type]


async def test_prune_refuses_an_age_beyond_the_calendar() -> None:
    async with AsyncChatKit("memory://") as kit:
        with pytest.raises(InvalidInputError) as caught:
            await kit.webhooks.prune(older_than=timedelta.max)
        assert caught.value.field == "older_than"
        assert await kit.webhooks.prune(older_than=timedelta(days=1)) == 0


async def test_asgi_refuses_settings_and_hooks_of_the_wrong_kind() -> None:
    pytest.importorskip("fastapi")
    async with AsyncChatKit("memory://") as kit:
        with pytest.raises(ConfigurationError, match="WebSettings"):
            kit.asgi({"max_body_bytes": 5})  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="authenticate"):
            kit.asgi(authenticate="agents")  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="policy"):
            kit.asgi(policy=5)  # type: ignore[arg-type]
