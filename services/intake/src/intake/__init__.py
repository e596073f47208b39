"""Intake: every channel in (app, Zalo, Facebook, email, hotline, web form, collaborators,
Open311), one canonical report out.
"""
