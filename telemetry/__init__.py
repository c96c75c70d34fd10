"""Telemetry: the MAVLink link to a vehicle (upload, verify, commands, monitoring) and, later, flight logs.

Importing any module here switches pymavlink to MAVLink 2 (see :mod:`telemetry.link`).
"""
