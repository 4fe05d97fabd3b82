"""Exceptions raised by kimera_entropy: one class per kimera_status code.

Every failure the C library reports becomes a KimeraError (or a subclass)
carrying the status code and the library's message, which names the field,
id or line at fault. "Not found" is an error only where the Pythonic call
has no other way to say it (Store.fetch); the compat layer returns None as
the reference does.
"""

# The kimera_status codes of kimera_c.h.
OK = 0
NOT_FOUND = 1
INVALID_ARGUMENT = 2
CORRUPTION = 3
IO_ERROR = 4
NO_SPACE = 5
BUSY = 6
UNAVAILABLE = 7
ABORTED = 8
INTERNAL = 100

STATUS_NAMES = {
    OK: "ok",
    NOT_FOUND: "not_found",
    INVALID_ARGUMENT: "invalid_argument",
    CORRUPTION: "corruption",
    IO_ERROR: "io_error",
    NO_SPACE: "no_space",
    BUSY: "busy",
    UNAVAILABLE: "unavailable",
    ABORTED: "aborted",
    INTERNAL: "internal",
}


class KimeraError(Exception):
    """A failed call: `code` is the kimera_status, `message` the library's text."""

    code = INTERNAL

    def __init__(self, code, message):
        super().__init__(code, message)
        self.code = code
        self.message = message

    @property
    def status_name(self):
        return STATUS_NAMES.get(self.code, "status_%d" % self.code)

    def __str__(self):
        return "%s: %s" % (self.status_name, self.message)


class NotFound(KimeraError, LookupError):
    code = NOT_FOUND


class InvalidArgument(KimeraError, ValueError):
    code = INVALID_ARGUMENT


class Corruption(KimeraError):
    code = CORRUPTION


class StorageIOError(KimeraError, OSError):
    code = IO_ERROR

    def __init__(self, code, message):
        KimeraError.__init__(self, code, message)

    def __str__(self):
        return KimeraError.__str__(self)


class NoSpace(StorageIOError):
    code = NO_SPACE


class Busy(KimeraError):
    code = BUSY


class Unavailable(KimeraError):
    code = UNAVAILABLE


class Aborted(KimeraError):
    code = ABORTED


class InternalError(KimeraError):
    code = INTERNAL


class StoreClosed(KimeraError):
    """A call on a Store (or compat storage) after close()."""

    code = INVALID_ARGUMENT


class LibraryNotFound(ImportError):
    """libkimera.so was not found, or its C ABI version is not the one expected."""


_BY_CODE = {
    NOT_FOUND: NotFound,
    INVALID_ARGUMENT: InvalidArgument,
    CORRUPTION: Corruption,
    IO_ERROR: StorageIOError,
    NO_SPACE: NoSpace,
    BUSY: Busy,
    UNAVAILABLE: Unavailable,
    ABORTED: Aborted,
    INTERNAL: InternalError,
}


def error_for(code, message):
    """The exception instance for a kimera_status `code` (not OK)."""
    return _BY_CODE.get(code, KimeraError)(code, message)
