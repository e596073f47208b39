"""Notify: tells every citizen what happened to their report, exactly once, on their own
channel.
"""
