"""asyncio transports (UDP, TCP) and wire tracing: the I/O edge of the SIP core."""
