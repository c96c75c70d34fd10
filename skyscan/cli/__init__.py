"""The skyscan command-line shell: argument parsing, display and exit codes over the Python API."""
