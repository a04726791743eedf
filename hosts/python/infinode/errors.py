"""Exceptions: one class per inf_status, all subclasses of InfinodeError(status, message).

Where a Python built-in exception means the same thing, the class derives from it too, so
`except ValueError` catches an out-of-range parameter as Python code would expect.
"""

from ._abi import Status


class InfinodeError(Exception):
    """A call failed: `status` is the inf_status (a Status), `message` the library's one line."""

    def __init__(self, status, message):
        super().__init__(status, message)
        self.status = Status(status)
        self.message = message

    def __str__(self):
        return "%s: %s" % (self.status.name, self.message)


class InvalidArgumentError(InfinodeError, ValueError):
    pass


class InvalidHandleError(InfinodeError, ValueError):
    pass


class NotFoundError(InfinodeError, LookupError):
    pass


class TypeMismatchError(InfinodeError, TypeError):
    pass


class AlreadyExistsError(InfinodeError):
    pass


class UnsupportedError(InfinodeError):
    pass


class InvalidDataError(InfinodeError, ValueError):
    pass


class InfinodeIOError(InfinodeError):
    pass


class OutOfMemoryError(InfinodeError, MemoryError):
    pass


class CancelledError(InfinodeError):
    pass


class JobTimeoutError(InfinodeError):
    pass


class NotReadyError(InfinodeError):
    pass


class WouldDeadlockError(InfinodeError):
    pass


class InternalError(InfinodeError):
    pass


class CallbackError(InfinodeError):
    """A Python callback of a job raised. The exception is the __cause__; `status` is the job's
    result (an exception in a callback cancels the job)."""


_BY_STATUS = {
    Status.INVALID_ARGUMENT: InvalidArgumentError,
    Status.INVALID_HANDLE: InvalidHandleError,
    Status.NOT_FOUND: NotFoundError,
    Status.TYPE_MISMATCH: TypeMismatchError,
    Status.ALREADY_EXISTS: AlreadyExistsError,
    Status.UNSUPPORTED: UnsupportedError,
    Status.INVALID_DATA: InvalidDataError,
    Status.IO: InfinodeIOError,
    Status.OUT_OF_MEMORY: OutOfMemoryError,
    Status.CANCELLED: CancelledError,
    Status.TIMEOUT: JobTimeoutError,
    Status.NOT_READY: NotReadyError,
    Status.WOULD_DEADLOCK: WouldDeadlockError,
    Status.INTERNAL: InternalError,
}


def error_for(status, message):
    """The exception for a non-OK status (InternalError for a status this binding does not know)."""
    try:
        status = Status(status)
    except ValueError:
        return InternalError(Status.INTERNAL, "unknown status %d: %s" % (status, message))
    return _BY_STATUS.get(status, InfinodeError)(status, message)
