"""User-facing errors: bad input that the user can fix, reported without a traceback."""


class UserError(Exception):
    """Bad input (file, key, value). The message names it and says what to do."""
