"""Intake's pure domain: from a raw channel message to a canonical report decision.

Nothing here does I/O; every function takes values (and the city configuration) and
returns values, so each rule is tested on its own with Vietnamese inputs.
"""
