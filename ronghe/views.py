"""Read-only views of the registrar and proxy for the admin API (its RegistrationSource port).

The API calls these from worker threads while the event loop changes the bindings and
calls, so every snapshot is taken on the event loop thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar, cast

from api.ports import CallView, RegistrationView
from voip_core.proxy.core import Proxy
from voip_core.registrar import BindingStore

__all__ = ["ProxyRegistrations"]

_T = TypeVar("_T")


class ProxyRegistrations:
    """Bindings and calls as the API shows them."""

    def __init__(
        self,
        store: BindingStore,
        proxy: Proxy,
        loop: asyncio.AbstractEventLoop,
        *,
        remote_calls: Callable[[], Awaitable[list[dict[str, object]]]] | None = None,
    ) -> None:
        self._store = store
        self._proxy = proxy
        self._loop = loop
        #: The calls other worker processes carry (``--workers``), as JSON values.
        self._remote_calls = remote_calls

    def _on_loop(self, snapshot: Callable[[], _T]) -> _T:
        async def take() -> _T:
            return snapshot()

        return asyncio.run_coroutine_threadsafe(take(), self._loop).result(timeout=10)

    def registrations(self, extension: str | None = None) -> Sequence[RegistrationView]:
        """Current bindings, optionally of one extension."""

        def snapshot() -> list[RegistrationView]:
            views = []
            for binding in self._store.all_bindings():
                number = binding.aor[4:].rpartition("@")[0]
                if extension is not None and number != extension:
                    continue
                views.append(
                    RegistrationView(
                        extension=number,
                        contact=binding.contact,
                        transport=binding.source.transport,
                        source=binding.source.host_port,
                        user_agent=binding.user_agent or "",
                        expires_at=datetime.fromtimestamp(binding.expires_at, UTC),
                        q=1.0 if binding.q is None else binding.q,
                    )
                )
            return views

        return self._on_loop(snapshot)

    def active_calls(self) -> Sequence[CallView]:
        """Calls ringing or established through the proxy, in every worker process."""

        async def gather() -> list[CallView]:
            views = [
                CallView(
                    call_id=record.call_id,
                    caller=record.caller,
                    callee=record.callee,
                    state=record.state,
                    started_at=datetime.fromtimestamp(record.started_at, UTC),
                )
                for record in self._proxy.calls.values()
            ]
            if self._remote_calls is not None:
                for view in await self._remote_calls():
                    views.append(
                        CallView(
                            call_id=str(view["call_id"]),
                            caller=str(view["caller"]),
                            callee=str(view["callee"]),
                            state=str(view["state"]),
                            started_at=datetime.fromtimestamp(
                                float(cast(float, view["started_at"])), UTC
                            ),
                        )
                    )
            return views

        return asyncio.run_coroutine_threadsafe(gather(), self._loop).result(timeout=10)
