"""The claim: who gets a due message is decided by inserting a claim token with a unique
``_id`` (message id + claim generation), the one write every MongoDB-protocol server
makes atomic.

A single ``find_one_and_update(due, sort=oldest)`` is atomic on MongoDB, but FerretDB
v1 (the test server) runs it as a find and a separate write: under four racing
processes it handed the same message to several of them. So a claim is:

1. read the oldest due message and its claim generation ``claim_seq`` (absent = 0);
2. insert ``{_id: "<message _id>#<claim_seq>"}`` into ``claim_tokens``: exactly one
   racer succeeds, the others get a duplicate key and look again;
3. the winner sets the lease and ``claim_seq + 1`` on the message by ``_id``.

A racer that read before the winner's step 3 fails at step 2 (same generation); one
that reads after it sees ``processing`` (not due) or the next generation. A loser
skips that message for the rest of its claim. When the winner never made step 3 (the
store went away, or the winner died, in between), its token is orphaned: once it is
older than a lease, the next loser moves the message to the next generation, and it
can be claimed again.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

Document = dict[str, Any]

# A token only matters while a racer may still act on a read made before the winner's
# write (milliseconds); recover_expired deletes those older than this.
TOKEN_KEEP = timedelta(days=1)

CLAIM_ORDER = [("received_at", ASCENDING), ("channel_id", ASCENDING), ("message_id", ASCENDING)]


async def claim_oldest(
    messages: AsyncCollection[Document],
    tokens: AsyncCollection[Document],
    due: Document,
    owner: str,
    now: datetime,
    lease: timedelta,
    claim: Document,
    skip: Collection[str] = (),
    readable: Callable[[Document], bool] = lambda _: True,
) -> Document | None:
    """Claim the oldest message matching *due* for *owner*, writing the update *claim* (the
    domain's claim changes: the lease until now + lease); None when there is none. Messages
    whose ``_id`` is in *skip*, and candidates that are not *readable* (a document edited
    by hand out of shape, which the caller then adds to *skip*), are passed over."""
    lost: list[str] = []
    while True:  # each lost or unreadable round skips a message: the loop ends
        passed = [*lost, *skip]
        query = {"$and": [due, {"_id": {"$nin": passed}}]} if passed else due
        candidate = await messages.find_one(query, sort=CLAIM_ORDER)
        if candidate is None:
            return None
        if not readable(candidate):
            lost.append(candidate["_id"])
            continue
        generation = int(candidate.get("claim_seq", 0))
        token = f"{candidate['_id']}#{generation}"
        try:
            await tokens.insert_one({"_id": token, "owner": owner, "at": now})
        except DuplicateKeyError:
            if not await _free_if_orphaned(messages, tokens, candidate["_id"], token, now - lease):
                lost.append(candidate["_id"])
            continue
        # Only while the message is still at our generation: had our insert stalled past
        # a lease, another claimer may have moved it on (_free_if_orphaned) and won it.
        # (A flat filter led by _id: FerretDB looks it up instead of scanning.)
        at_generation = candidate.get("claim_seq", {"$exists": False})
        claimed = await messages.find_one_and_update(
            {"_id": candidate["_id"], "claim_seq": at_generation},
            {**claim, "$set": {**claim.get("$set", {}), "claim_seq": generation + 1}},
            return_document=ReturnDocument.AFTER,
        )
        if claimed is not None:
            return claimed
        lost.append(candidate["_id"])


async def _free_if_orphaned(
    messages: AsyncCollection[Document],
    tokens: AsyncCollection[Document],
    message_id: str,
    token: str,
    older_than: datetime,
) -> bool:
    """Move the message past a token older than a lease whose winner never took it (a
    live winner takes it within milliseconds); True when it did. ``$max`` makes racing
    movers harmless."""
    if await tokens.find_one({"_id": token, "at": {"$lt": older_than}}) is None:
        return False
    generation = int(token.rpartition("#")[2])
    await messages.update_one({"_id": message_id}, {"$max": {"claim_seq": generation + 1}})
    return True
