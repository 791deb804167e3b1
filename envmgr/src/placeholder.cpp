// Replaced by the environment manager.
