"""Channel ids in the one form we store: Telethon's marked form, ``-100…`` for channels."""

CHANNEL_MARK = 1_000_000_000_000  # -100… ids: -(CHANNEL_MARK + bare id)
