"""One module per command (or group of close commands); each registers on bootstrap.app.app."""
