"""The one exception type users see: the CLI turns it into `inrcodec: error: ...`."""


class InrcodecError(Exception):
    """Bad input, bad bitstream or bad option; the message is one line meant for a user."""
