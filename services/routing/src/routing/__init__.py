"""Routing: assigns each report to agencies under configurable rules, with working-day
deadlines, escalation and the agencies' replies.
"""
