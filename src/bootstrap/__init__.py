"""The composition root: settings, the DI container, the CLI and the service runner."""
