"""conduit's entry points: the `conduit` command line and the embedded (one-process) mode."""
