"""The LLM adapter: any OpenAI-compatible provider through the ``openai`` SDK, and a Z.AI simulator.

No ``openai`` type leaves this package: failures come out as ``domain.failures.LLMFailure``.
"""
