"""The one exception type a user can meet."""


class ParityError(Exception):
    """A problem with the user's input or environment.

    The message names the thing that is wrong and the fix, on one line; the CLI
    prints it without a traceback and exits non-zero. Anything else is a bug.
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
