"""Telling the admins: through a Telegram bot (Bot API over HTTP), or on the console."""
