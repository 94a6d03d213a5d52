"""The digest package's public API: ``voip_core/sip/digest/__init__.py`` (like httpx's
``tests/test_exported_members.py``).

Covered: ``__all__`` is sorted (constants, classes, functions), names exactly what the
package namespace exports (no submodules, nothing missing), and includes every name of
each public module's own ``__all__``, so a name added to a module cannot be forgotten here.
Left out: ``_private.py``, whose helpers are internal.
"""

from __future__ import annotations

import importlib
import types

import voip_core.sip.digest as digest

PUBLIC_MODULES = ("algorithm", "client", "codec", "nonce", "server")


def isort_order(names: list[str]) -> list[str]:
    """Constants, then classes, then functions, each alphabetical (ruff RUF022)."""

    def key(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    return sorted(names, key=key)


def test_all_is_sorted_and_matches_the_namespace() -> None:
    exported = [
        name
        for name, value in vars(digest).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    ]
    assert digest.__all__ == isort_order(digest.__all__)
    assert sorted(exported) == sorted(digest.__all__)


def test_every_public_module_name_is_exported() -> None:
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(f"voip_core.sip.digest.{module_name}")
        assert module.__all__ == isort_order(module.__all__), module_name
        for name in module.__all__:
            assert getattr(digest, name) is getattr(module, name), f"{module_name}.{name}"
