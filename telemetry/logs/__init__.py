"""Flight logs: fast readers for .tlog, .bin (DataFlash), .ulg and .mrk, and the flight built from them.

Every reader returns a :class:`Log`: one columnar :class:`Table` per message type (numpy arrays, one
per field) with a ``time`` column in one clock (UTC when the log has it). On top:

* :func:`read_log` recognises the format from the content;
* :func:`track`, :func:`camera_events`, :class:`Flight`: format-independent track and trigger tables;
* :func:`summary`: duration, distance, altitude, battery, modes, mission progress, messages;
* :func:`export`: track and events as GeoJSON, KML, GPX or CSV.

Example::

    log = read_log("flight.tlog", types=["GLOBAL_POSITION_INT", "ATTITUDE", "CAMERA_FEEDBACK"])
    lat = log["GLOBAL_POSITION_INT"].scaled("lat")       # degrees
    print(summary(log).to_text())
"""

from .dataflash import read_dataflash
from .detect import FORMATS, detect_format, read_log
from .export import ExportFormat, export, render
from .flight import EVENT_COLUMNS, TRACK_COLUMNS, Flight, camera_events, track
from .mavlink_defs import load_dialect
from .mrk import read_mrk
from .summary import FlightSummary, summary
from .tables import Log, Skipped, Table
from .tlog import parse_tlog, read_tlog
from .ulog import read_ulog

__all__ = [
    "EVENT_COLUMNS",
    "FORMATS",
    "TRACK_COLUMNS",
    "ExportFormat",
    "Flight",
    "FlightSummary",
    "Log",
    "Skipped",
    "Table",
    "camera_events",
    "detect_format",
    "export",
    "load_dialect",
    "parse_tlog",
    "read_dataflash",
    "read_log",
    "read_mrk",
    "read_tlog",
    "read_ulog",
    "render",
    "summary",
    "track",
]
