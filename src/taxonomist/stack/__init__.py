"""The stack: every node classifier composed into one tree-walking predictor."""
