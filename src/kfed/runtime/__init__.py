"""Process-level runtime helpers shared by every long-running kfed process (no kfed imports)."""
