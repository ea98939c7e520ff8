"""Telegram in: live posts through Telethon, and Telegram Desktop exports.

Every channel id leaving this package is in Telethon's *marked* form (the form
``telethon.utils.get_peer_id`` and the Bot API use): a channel or supergroup is
``-(10**12 + bare id)``, which
reads as ``-100`` followed by the bare id (1234567890 -> -1001234567890); a basic group
is its negated id, a user its plain id. Exports carry bare ids; the export reader
marks them, so a post read live and the same post imported are one message.
"""
