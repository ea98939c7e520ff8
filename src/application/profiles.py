"""Which profile (prompt and schema) parses which channel: a channel named by a profile
(by its id or @username) is parsed under it, every other under the default profile."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from channel_parser.application.ports.llm import DEFAULT_PROFILE, ParserProfile
from channel_parser.application.ports.storage import ChannelInfo, StaleResults


def _lower_keys(names: Mapping[str, str]) -> dict[str, str]:
    return {name.removeprefix("@").lower(): profile for name, profile in names.items()}


@attrs.frozen(eq=False)
class ProfileTable:
    default: ParserProfile
    others: Mapping[str, ParserProfile] = attrs.field(factory=dict)  # by name
    by_id: Mapping[int, str] = attrs.field(factory=dict)  # channel id -> profile name
    by_username: Mapping[str, str] = attrs.field(factory=dict, converter=_lower_keys)

    def __attrs_post_init__(self) -> None:
        names = {*self.by_id.values(), *self.by_username.values()}
        if unknown := names - set(self.others):
            raise ValueError(f"channels given to unknown profiles: {sorted(unknown)}")

    def named(self, name: str) -> ParserProfile | None:
        return self.default if name == DEFAULT_PROFILE else self.others.get(name)

    def for_channel(self, channel_id: int | None, username: str | None = None) -> ParserProfile:
        """The channel's profile: by its id first, then its @username (any case)."""
        name = None if channel_id is None else self.by_id.get(channel_id)
        if name is None and username:
            name = self.by_username.get(username.removeprefix("@").lower())
        return self.default if name is None else self.others[name]

    def profiles(self) -> list[ParserProfile]:
        return [self.default, *self.others.values()]

    def stale(self, known: Iterable[ChannelInfo]) -> StaleResults:
        """The rule ``requeue --schema-changed`` stores apply: each channel's profile's
        fingerprint, for the channels named by id and those the registry knows by the
        usernames the profiles name (a post of a channel named only by a username the
        registry never saw is taken as the default profile's)."""
        by_channel = {
            channel: self.others[name].fingerprint for channel, name in self.by_id.items()
        }
        for info in known:
            if info.channel_id not in by_channel:
                profile = self.for_channel(info.channel_id, info.username)
                if profile is not self.default:
                    by_channel[info.channel_id] = profile.fingerprint
        return StaleResults(self.default.fingerprint, by_channel)
