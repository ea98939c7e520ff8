"""The pure core of channel-parser: no I/O, no asyncio, no clock reads."""
