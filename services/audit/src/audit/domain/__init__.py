"""Audit's pure domain: trail records and their hash chains, checkpoints, verification,
and the figures leadership reads. Nothing here does I/O."""
