"""Notify's pure decisions: which events tell whom what, in which words, on which channel.

No I/O here: values in, decisions out. The adapters (Kafka, MongoDB, HTTP, SMTP) and the
dispatcher that drives them live outside this package.
"""
