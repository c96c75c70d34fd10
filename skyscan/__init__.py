"""skyscan: plan, fly, simulate and process drone inspection surveys.

The library lives in the top-level packages ``mission`` (areas, coverage, plans, file formats),
``sensors`` (cameras and imagery), ``telemetry`` (MAVLink and logs) and ``sitl`` (the simulated
vehicle). This package holds only the shared error family and the command-line shell.
"""

__version__ = "0.1.0"
