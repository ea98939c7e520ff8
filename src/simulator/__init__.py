"""A Z.AI stand-in: an OpenAI-compatible chat-completions server with Z.AI's error codes,
a hidden concurrency limit, a rate limit, a balance, latency and scripted faults.

It stands in for the outside world (for ``demo``, ``simulate-zai``, the tests and the
benchmarks) and implements no port, so it is not an adapter: adapters, the application
and the domain never import it (an import-linter contract), only the bootstrap does.
"""
