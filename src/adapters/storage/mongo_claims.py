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
that reads after it sees ``processing`` (not due) or the next generation.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from domain.status import MessageStatus

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
) -> Document | None:
    """Claim the oldest message matching *due* for *owner*; None when there is none."""
    while True:  # each lost round means another worker won one: the backlog shrinks
        candidate = await messages.find_one(
            due, sort=CLAIM_ORDER, projection={"_id": True, "claim_seq": True}
        )
        if candidate is None:
            return None
        generation = int(candidate.get("claim_seq", 0))
        try:
            await tokens.insert_one(
                {"_id": f"{candidate['_id']}#{generation}", "owner": owner, "at": now}
            )
        except DuplicateKeyError:
            continue
        return await messages.find_one_and_update(
            {"_id": candidate["_id"]},
            {
                "$set": {
                    "processing_status": str(MessageStatus.PROCESSING),
                    "lease_owner": owner,
                    "lease_until": now + lease,
                    "updated_at": now,
                    "claim_seq": generation + 1,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
