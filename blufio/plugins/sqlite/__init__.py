"""The ``sqlite`` plugin: storage in one SQLite database in WAL mode."""
