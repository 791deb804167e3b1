// Replaced by the sync engine.
