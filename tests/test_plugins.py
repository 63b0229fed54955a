"""Store plugins: built-ins, real entry points, clear errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from chatkit import AsyncChatKit, ConfigurationError, PluginLoadError, PluginNotFoundError
from chatkit.plugins import Builtin, PluginLoader
from chatkit.stores import MemoryStore, open_store
from chatkit.stores.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed distribution with chatkit.stores entry points, found via sys.path."""
    (tmp_path / "ramstore_plugin.py").write_text(
        textwrap.dedent(
            """
            from chatkit.stores import MemoryStore

            class RamStore(MemoryStore):
                schemes = ("ramstore",)

                @classmethod
                def from_url(cls, url):
                    store = cls()
                    store.url = url
                    return store

            NOT_A_STORE = object()
            """
        )
    )
    dist = tmp_path / "ramstore_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ramstore-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[chatkit.stores]\n"
        "ramstore = ramstore_plugin:RamStore\n"
        "brokenstore = ramstore_plugin_missing:Store\n"
        "weirdstore = ramstore_plugin:NOT_A_STORE\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_builtin_schemes() -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
    assert isinstance(open_store("sqlite:///x.db"), SQLiteStore)


async def test_third_party_store_is_loaded_from_its_entry_point(plugin_dir: Path) -> None:
    async with AsyncChatKit("ramstore://anything") as kit:
        assert type(kit.store).__name__ == "RamStore"
        contact = await kit.contacts.create(name="Ada")
        assert (await kit.contacts.get(contact.id)).name == "Ada"


def test_unknown_scheme_names_what_is_known() -> None:
    with pytest.raises(PluginNotFoundError, match=r"chatkit\.stores:nosuch") as caught:
        open_store("nosuch://x")
    assert caught.value.group == "chatkit.stores"
    assert caught.value.name == "nosuch"
    assert "sqlite" in str(caught.value)


def test_broken_plugin_raises_load_error_naming_it(plugin_dir: Path) -> None:
    with pytest.raises(PluginLoadError, match="brokenstore"):
        open_store("brokenstore://x")


def test_plugin_that_is_not_a_store_is_refused(plugin_dir: Path) -> None:
    with pytest.raises(PluginLoadError, match="not a Store"):
        open_store("weirdstore://x")


def test_kill_switch_ignores_entry_points(
    plugin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATKIT_DISABLE_ENTRY_POINTS", "1")
    loader: PluginLoader[object] = PluginLoader("chatkit.stores", {})
    with pytest.raises(PluginNotFoundError):
        loader.load("ramstore")
    assert "ramstore" not in loader.available()


def test_missing_builtin_dependency_gives_install_hint() -> None:
    loader: PluginLoader[object] = PluginLoader(
        "chatkit.stores",
        {"fancy": Builtin("chatkit_fancy_missing.module:Store", "pip install 'chatkit[fancy]'")},
    )
    with pytest.raises(PluginLoadError, match=r"pip install 'chatkit\[fancy\]'"):
        loader.load("fancy")


@pytest.mark.parametrize("url", ["", "support.db", "sqlite:/x.db", 42])
def test_malformed_urls(url: object) -> None:
    with pytest.raises(ConfigurationError):
        open_store(url)  # type: ignore[arg-type]
