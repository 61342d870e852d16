"""Test-split evaluation: metrics shared by nodes and the stack, and the per-node harness."""
