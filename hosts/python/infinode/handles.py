"""Python ownership of the library's reference-counted handles.

Each wrapper owns one reference. close() (or leaving a `with` block) drops it, once; release()
drops it strictly, so a second release reaches the library, which answers InvalidHandleError,
as the C ABI does. __del__ closes what the program forgot, swallowing errors (it may run at
interpreter exit). Using a wrapper after its reference is gone passes the dead handle to the
library, which refuses it with InvalidHandleError: handle values are never reused.
"""

import threading

from .library import resolve


class Handle:
    _kind = "handle"  # "engine", "node", "value", "job": selects the <kind>_* functions

    def __init__(self, library, raw):
        self._library = resolve(library)
        self._raw = raw
        self._released = False
        self._release_lock = threading.Lock()

    @property
    def library(self):
        return self._library

    @property
    def handle(self):
        """The raw handle (an int), for calls through library.api."""
        return self._raw

    @property
    def closed(self):
        return self._released

    def _call(self, name, *args):
        """api.<kind>_<name>(handle, *args), raising on failure with this handle's message."""
        status = getattr(self._library.api, "%s_%s" % (self._kind, name))(self._raw, *args)
        if status != 0:
            self._raise(status)

    def _raise(self, status, context=None):
        self._library.check(status, context)

    def release(self):
        """Drops this wrapper's reference. A second call reaches the library and raises
        InvalidHandleError (unless someone else still holds a reference)."""
        with self._release_lock:
            self._released = True
        self._on_release()
        self._call("release")

    def _on_release(self):
        """Subclasses let go of what the handle needed (e.g. a log callback) here."""

    def close(self):
        """Drops this wrapper's reference if it still has it (idempotent)."""
        with self._release_lock:
            if self._released or self._raw is None:
                return
            self._released = True
        self._on_release()
        self._call("release")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 -- nothing may escape a finaliser
            pass

    def __repr__(self):
        state = "released" if self._released else "0x%x" % (self._raw or 0)
        return "<infinode %s %s>" % (self._kind, state)
