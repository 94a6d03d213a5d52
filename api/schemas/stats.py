"""Schema of ``GET /stats``: the SIP side's counters as JSON, the numbers of ``/metrics``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.ports import StatsView

__all__ = ["StatsPublic"]


class StatsPublic(BaseModel):
    """Counters since start (``*_total`` in ``/metrics``) and levels now, summed over the
    SIP worker processes. Each labelled object lists every label, zero included."""

    workers: int = Field(description="SIP worker processes (`ronghe_workers`).")
    registered_contacts: int = Field(description="`ronghe_registered_contacts`.")
    transactions: int = Field(description="Live SIP transactions (`ronghe_sip_transactions`).")
    response_contexts: int = Field(
        description="Forwarded requests awaiting a final response "
        "(`ronghe_proxy_response_contexts`)."
    )
    calls_in_progress: int = Field(description="`ronghe_calls_in_progress`.")
    calls: dict[str, int] = Field(description="Calls ended, by outcome (`ronghe_calls_total`).")
    sip_requests: dict[str, int] = Field(
        description="Requests received, by method (`ronghe_sip_requests_total`)."
    )
    sip_responses: dict[str, int] = Field(
        description="Responses sent, by class (`ronghe_sip_responses_total`)."
    )
    sip_responses_received: dict[str, int] = Field(
        description="Responses received, by class (`ronghe_sip_responses_received_total`)."
    )
    malformed_messages: int = Field(description="`ronghe_sip_malformed_messages_total`.")
    requests_shed: dict[str, int] = Field(
        description="New requests refused, by reason (`ronghe_requests_shed_total`)."
    )
    messages_forwarded: int = Field(
        description="Messages passed between workers (`ronghe_worker_messages_forwarded_total`)."
    )
    auth_failures: int = Field(description="`ronghe_auth_failures_total`.")
    auth_blocks: int = Field(description="`ronghe_auth_blocks_total`.")
    rate_blocks: int = Field(description="`ronghe_rate_limit_blocks_total`.")
    blocked_sources: int = Field(description="`ronghe_blocked_sources`.")
    plan_version: int = Field(description="`ronghe_plan_version`.")
    plan_loaded_at: datetime | None = Field(
        description="When the live plan was loaded, UTC (`ronghe_plan_reload_timestamp_seconds`)."
    )
    plan_reload_failures: int = Field(description="`ronghe_plan_reload_failures_total`.")

    @classmethod
    def from_view(cls, view: StatsView) -> StatsPublic:
        """Build from the SIP side's view."""
        return cls(
            workers=view.workers,
            registered_contacts=view.registered_contacts,
            transactions=view.transactions,
            response_contexts=view.response_contexts,
            calls_in_progress=view.calls_in_progress,
            calls=dict(view.calls),
            sip_requests=dict(view.sip_requests),
            sip_responses=dict(view.sip_responses),
            sip_responses_received=dict(view.sip_responses_received),
            malformed_messages=view.malformed_messages,
            requests_shed=dict(view.requests_shed),
            messages_forwarded=view.messages_forwarded,
            auth_failures=view.auth_failures,
            auth_blocks=view.auth_blocks,
            rate_blocks=view.rate_blocks,
            blocked_sources=view.blocked_sources,
            plan_version=view.plan_version,
            plan_loaded_at=view.plan_loaded_at,
            plan_reload_failures=view.plan_reload_failures,
        )
