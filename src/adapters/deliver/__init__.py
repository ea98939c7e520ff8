"""Parsed results delivered where they are needed: routes (a condition and a template on
the result) and their senders (a webhook, a Telegram chat through the bot)."""
