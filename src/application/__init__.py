"""Use cases of channel-parser, written against the ports in ``application.ports``."""
