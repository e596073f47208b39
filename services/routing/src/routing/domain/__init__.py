"""Routing's pure domain: values in, decisions out, no I/O."""
