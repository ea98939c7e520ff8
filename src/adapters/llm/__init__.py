"""The LLM adapter: any OpenAI-compatible provider through the ``openai`` SDK.

No ``openai`` type leaves this package: failures come out as ``domain.failures.LLMFailure``.
(The Z.AI stand-in used by the demo and the tests is ``channel_parser.simulator``.)
"""
