"""One use case per module: a class that takes its ports and has one async entry point."""
