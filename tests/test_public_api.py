"""The public API is exactly what __all__ says."""

from __future__ import annotations

import types

import chatkit


def test_all_matches_public_names() -> None:
    public = {
        name
        for name, value in vars(chatkit).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"  # from __future__ import annotations
    }
    assert set(chatkit.__all__) - {"__version__"} == public


def test_errors_share_one_root_and_end_in_error() -> None:
    import chatkit.errors as errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, chatkit.ChatKitError)
        assert name.endswith("Error")
