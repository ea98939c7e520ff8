"""channel-parser: Telegram channel posts into schema-valid JSON with an LLM.

The card's folders install as one namespace: ``channel_parser.domain`` (pure rules),
``channel_parser.application`` (use cases and ports), ``channel_parser.adapters``
(the outside world) and ``channel_parser.bootstrap`` (settings, the container, the CLI).
"""
