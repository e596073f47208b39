"""Audit: an immutable, hash-chained, signed trail of every event in MongoDB, and the
figures leadership asks for.
"""
