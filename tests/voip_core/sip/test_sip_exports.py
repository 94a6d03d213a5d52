"""The package's public API: ``voip_core/sip/__init__.py`` (like httpx's
``tests/test_exported_members.py``).

Covered: ``__all__`` is sorted, names exactly what the package namespace exports (no
submodules, nothing missing), and includes every name of each public module's own
``__all__``, so a name added to a module cannot be forgotten here.
Left out: ``digest.py``, which its own tests cover and which is imported from its module.
"""

from __future__ import annotations

import importlib
import types

import voip_core.sip as sip

PUBLIC_MODULES = (
    "address",
    "exceptions",
    "framer",
    "grammar",
    "headers",
    "host",
    "message",
    "parser",
    "peer",
    "reply",
    "sdp",
    "status",
    "uri",
    "via",
)


def test_all_is_sorted_and_matches_the_namespace() -> None:
    exported = [
        name
        for name, value in vars(sip).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    ]
    assert sip.__all__ == sorted(sip.__all__)
    assert sorted(exported) == sip.__all__


def test_every_public_module_name_is_exported() -> None:
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(f"voip_core.sip.{module_name}")
        for name in module.__all__:
            assert getattr(sip, name) is getattr(module, name), f"{module_name}.{name}"
