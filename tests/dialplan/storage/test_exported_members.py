"""Every storage and API module keeps a sorted, complete ``__all__``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import api
import dialplan.storage

MODULES = sorted(
    name
    for package in (dialplan.storage, api)
    for name in [package.__name__]
    + [info.name for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
)


def _isort_order(name: str) -> tuple[int, str]:
    # CONSTANTS, then Classes, then functions, as ruff's RUF022 sorts __all__.
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_lists_every_public_definition(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert list(exported) == sorted(exported, key=_isort_order)
    for attribute in exported:
        assert hasattr(module, attribute), f"{name}.__all__ names missing {attribute}"
    if name.startswith("api.routers."):
        return  # route handlers are reached through the module's `router`
    defined_here = {
        attribute
        for attribute, value in vars(module).items()
        if not attribute.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == name
    }
    assert defined_here <= set(exported), f"{name} does not export {defined_here - set(exported)}"
