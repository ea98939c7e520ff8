"""Wait until a MongoDB-protocol server answers ping: wait_for_mongo.py URI SECONDS."""

import sys
import time

from pymongo import MongoClient
from pymongo.errors import PyMongoError


def main() -> int:
    uri, seconds = sys.argv[1], float(sys.argv[2])
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with MongoClient(uri, serverSelectionTimeoutMS=500) as client:
                client.admin.command("ping")
            return 0
        except PyMongoError:
            time.sleep(0.1)
    return 1


if __name__ == "__main__":
    sys.exit(main())
