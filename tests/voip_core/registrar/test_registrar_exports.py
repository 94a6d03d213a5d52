"""The registrar and storage packages export their public API through ``__all__``."""

from __future__ import annotations

import importlib

import pytest

# package -> the modules whose public names it re-exports
EXPORTS = {
    "voip_core.registrar": [
        "voip_core.registrar.binding",
        "voip_core.registrar.exceptions",
        "voip_core.registrar.gruu",
        "voip_core.registrar.memory_store",
        "voip_core.registrar.register",
        "voip_core.registrar.store",
    ],
    "voip_core.storage": [
        "voip_core.storage.persistent",
        "voip_core.storage.redis_store",
        "voip_core.storage.sql_store",
    ],
}
# Names a module exports for its neighbours rather than for package users.
INTERNAL = {
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_FLUSH_INTERVAL",
    "DEFAULT_PREFIX",
    "GRUU_PARAM",
    "MAX_AOR_LENGTH",
    "MAX_CALL_ID_LENGTH",
    "MAX_CONTACT_LENGTH",
    "MAX_INSTANCE_ID_LENGTH",
    "MAX_PATH_LENGTH",
    "MAX_USER_AGENT_LENGTH",
    "TEMP_GRUU_PREFIX",
    "binding_from_row",
    "binding_to_row",
    "decode_binding",
    "encode_binding",
    "escape_user",
}


def isort_order(names: list[str]) -> list[str]:
    """Constants, then classes, then functions, each alphabetical (ruff RUF022)."""

    def key(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    return sorted(names, key=key)


@pytest.mark.parametrize("package", sorted(EXPORTS))
def test_all_is_sorted_and_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__ == isort_order(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), name


@pytest.mark.parametrize(
    ("package", "module_name"), [(p, m) for p, ms in EXPORTS.items() for m in ms]
)
def test_public_names_are_reexported(package: str, module_name: str) -> None:
    exported = set(importlib.import_module(package).__all__)
    module = importlib.import_module(module_name)
    assert module.__all__ == isort_order(module.__all__)
    missing = set(module.__all__) - exported - INTERNAL
    assert not missing, f"{module_name} exports {sorted(missing)} not in {package}.__all__"
