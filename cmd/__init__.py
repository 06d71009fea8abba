"""The `alcor` command line (click); a thin layer over the SDK and the process entry points."""
