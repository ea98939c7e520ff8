"""Adapters: one package per outside thing (storage, llm, telegram, notify, metrics, clock)."""
