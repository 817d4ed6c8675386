"""User-facing errors.

Every failure a user can cause (bad flags, missing data, a checkpoint that does not fit) is raised as
a `UserError` whose message says what was wrong and what to do. The command-line entry points catch
`UserError`, print the message and exit non-zero: a user never sees a traceback for their own input.
Anything else that escapes is a bug in npmlp and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the user's input, data or environment; the message tells them what to do."""

    exit_code = 2


class DatasetNotAvailable(UserError):
    """The dataset's files are in none of the places searched."""


class DataCorrupt(UserError):
    """A data file exists but is truncated or fails its checksum."""


class TrainingDiverged(UserError):
    """The loss became NaN or infinite; the runner adds which checkpoint, if any, is kept."""

    exit_code = 3
