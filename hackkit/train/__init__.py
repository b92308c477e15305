"""02: the training methods, the one training session they share, its plan, callbacks, pruning
hooks, checkpoint averaging and multi-process training."""
