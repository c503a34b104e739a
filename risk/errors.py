"""The project's exception base: a step failed for a reason the user can fix.

Every script's `main()` turns a `StepError` into one line on stderr and exit
code 1 (`ConfigError`, a subclass, into exit code 2); anything else is a bug
and keeps its traceback.
"""


class StepError(Exception):
    """A pipeline step failed; the message says which file and why, in one line."""
