"""SKALD's learned continuity scorer (LCA) and its training."""
