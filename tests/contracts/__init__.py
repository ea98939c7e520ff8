"""Abstract contract suites, one per port family, run against every implementation."""
