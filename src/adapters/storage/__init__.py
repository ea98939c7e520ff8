"""Storage adapters: MongoDB (PyMongo's async API) and embedded SQLite, behind the storage ports."""
