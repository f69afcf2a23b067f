"""Reddit: monthly dump files (Pushshift, Arctic Shift) and the live API (PRAW), as the same rows."""

from sources.reddit.dumps import ROW_SCHEMA, DumpFilter, DumpRead, check_dump, iter_dump, read_dump

__all__ = ["ROW_SCHEMA", "DumpFilter", "DumpRead", "check_dump", "iter_dump", "read_dump"]
