"""Jobs: asynchronous node runs, their callbacks and their outputs.

The library calls back on its worker threads. The C function pointers handed to it are three
module-level ctypes thunks that live as long as the process; the job's Python callables are
looked up by the integer passed as user_data. So nothing the library may still call is ever
freed, whatever the host drops, and a job whose Python object is dropped still runs: its entry
keeps the callables and the Job alive until on_done.

An exception in a callback never reaches C: it is recorded in job.callback_errors, it cancels
the job (a broken callback should not let a long run go on), and job.outputs() raises
CallbackError from it.
"""

import atexit
import ctypes
import itertools
import threading
import time
from dataclasses import dataclass
from typing import Optional

from . import _abi
from ._abi import JobState, Status
from .errors import CallbackError, JobTimeoutError, error_for
from .handles import Handle
from .values import Value, copy_image_desc

# job_wait blocks in slices this long so Ctrl-C reaches a waiting Python program.
_WAIT_SLICE_SECONDS = 0.1


@dataclass(frozen=True)
class Progress:
    step: int  # steps done, 1..total_steps (a step is one scale when sampling)
    total_steps: int
    step_seconds: float
    stage: Optional[str]


class _Pending:
    """What the callbacks of one submitted job need, until its on_done has run."""

    def __init__(self, on_progress, on_preview, on_done):
        self.on_progress = on_progress
        self.on_preview = on_preview
        self.on_done = on_done
        self.errors = []
        self.job = None
        self.submitted = threading.Event()  # set once node_run_async has returned


_pending = {}
_pending_lock = threading.Lock()
_tokens = itertools.count(1)


def _entry(user_data):
    with _pending_lock:
        return _pending.get(user_data)


def _progress_of(pointer):
    progress = pointer.contents
    stage = progress.stage.decode("utf-8", "replace") if progress.stage is not None else None
    return Progress(progress.step, progress.total_steps, progress.step_seconds, stage)


def _on_progress(user_data, progress):
    entry = _entry(user_data)
    if entry is None or entry.on_progress is None:
        return 0
    try:
        return 1 if entry.on_progress(_progress_of(progress)) else 0
    except BaseException as error:  # noqa: BLE001 -- nothing may unwind into C
        entry.errors.append(error)
        return 1


def _on_preview(user_data, progress, image):
    entry = _entry(user_data)
    if entry is None or entry.on_preview is None:
        return
    try:
        # The library's buffer is valid during this call only: the Image is a copy.
        entry.on_preview(_progress_of(progress), copy_image_desc(image.contents))
    except BaseException as error:  # noqa: BLE001
        entry.errors.append(error)
        if entry.job is not None:
            entry.job._cancel_quietly()


def _on_done(user_data, job, result, message):
    entry = _entry(user_data)
    if entry is None:
        return
    entry.submitted.wait()  # entry.job is set once node_run_async has returned on the host thread
    try:
        if entry.on_done is not None and entry.job is not None:
            entry.on_done(entry.job, Status(result), message.decode("utf-8", "replace") if message else "")
    except BaseException as error:  # noqa: BLE001
        entry.errors.append(error)
    finally:
        with _pending_lock:
            _pending.pop(user_data, None)


_PROGRESS_THUNK = _abi.ProgressFn(_on_progress)
_PREVIEW_THUNK = _abi.PreviewFn(_on_preview)
_DONE_THUNK = _abi.DoneFn(_on_done)


def submit(node, ordered_inputs, on_progress, on_preview, on_done):
    """node_run_async with this module's callbacks; returns the Job."""
    library = node.library
    entry = _Pending(on_progress, on_preview, on_done)
    token = next(_tokens)
    with _pending_lock:
        _pending[token] = entry
    callbacks = _abi.init(_abi.JobCallbacks)
    callbacks.user_data = token
    callbacks.on_progress = _PROGRESS_THUNK
    if on_preview is not None:  # previews cost a VAE decode per scale: only when wanted
        callbacks.on_preview = _PREVIEW_THUNK
    callbacks.on_done = _DONE_THUNK
    count = len(ordered_inputs)
    inputs = (_abi.handle * max(1, count))(*[value.handle if value is not None else None for value in ordered_inputs])
    out = _abi.handle()
    try:
        status = library.api.node_run_async(node.handle, inputs, count, ctypes.byref(callbacks), ctypes.byref(out))
        if status != Status.OK:
            with _pending_lock:
                _pending.pop(token, None)
            library.check(status)
        entry.job = Job(library, out.value, node, entry.errors)
    finally:
        entry.submitted.set()
    return entry.job


class Job(Handle):
    """One asynchronous run of a node. Releasing it does not cancel it."""

    _kind = "job"

    def __init__(self, library, raw, node, callback_errors):
        super().__init__(library, raw)
        self._node = node  # keeps the node (and its engine) wrapper alive while the job is
        self._output_ids = [port.id for port in node.descriptor.outputs]
        self._callback_errors = callback_errors

    @property
    def node(self):
        return self._node

    @property
    def callback_errors(self):
        """Exceptions the job's Python callbacks raised (caught before they reached C)."""
        return list(self._callback_errors)

    def cancel(self):
        """Thread-safe and idempotent; the job stops at its next step boundary."""
        self._call("cancel")

    def _cancel_quietly(self):
        try:
            self.cancel()
        except Exception:  # noqa: BLE001 -- called from callbacks; the job may be gone
            pass

    def status(self):
        """(JobState, result): result is None until final. Never blocks."""
        state, result = _abi.c_enum(), _abi.c_enum()
        self._call("status", ctypes.byref(state), ctypes.byref(result))
        return JobState(state.value), (None if result.value == Status.NOT_READY else Status(result.value))

    @property
    def state(self):
        return self.status()[0]

    @property
    def done(self):
        return self.state == JobState.DONE

    @property
    def error_message(self):
        """Why the job failed (the calling thread's message for this job), "" if it did not."""
        raw = self._library.api.job_last_error(self._raw)
        return raw.decode("utf-8", "replace") if raw else ""

    def wait(self, timeout=None):
        """Blocks until the job is done (at most timeout seconds; 0 polls) and returns its result
        (a Status). Raises JobTimeoutError if it is still running, WouldDeadlockError when
        called from one of the library's threads (a callback) before the job is done."""
        deadline = None if timeout is None else time.monotonic() + timeout
        result = _abi.c_enum()
        while True:
            remaining = _WAIT_SLICE_SECONDS if deadline is None else max(0.0, min(_WAIT_SLICE_SECONDS, deadline - time.monotonic()))
            status = self._library.api.job_wait(self._raw, int(remaining * 1000), ctypes.byref(result))
            if status == Status.OK:
                return Status(result.value)
            if status != Status.TIMEOUT:
                self._library.check(status)
            if deadline is not None and time.monotonic() >= deadline:
                raise JobTimeoutError(Status.TIMEOUT, "the job is still running after %g s" % timeout)

    def outputs(self, timeout=None):
        """Waits, then returns {output port id: Value} (new references, yours to close).
        Raises the job's failure (e.g. CancelledError) or CallbackError if a callback raised."""
        result = self.wait(timeout)
        if self._callback_errors:
            first = self._callback_errors[0]
            raise CallbackError(result, "a job callback raised %s: %s" % (type(first).__name__, first)) from first
        outputs = {}
        try:
            for index, port_id in enumerate(self._output_ids):
                out = _abi.handle()
                self._library.check(self._library.api.job_get_output(self._raw, index, ctypes.byref(out)))
                outputs[port_id] = Value(self._library, out.value)
        except BaseException:
            for value in outputs.values():
                value.close()
            raise
        return outputs

    def output(self, port_id, timeout=None):
        """One output by port id (the others are released)."""
        if port_id not in self._output_ids:
            raise error_for(Status.NOT_FOUND, "node %s has no output '%s' (outputs: %s)" % (
                self._node.id, port_id, ", ".join(self._output_ids)))
        outputs = self.outputs(timeout)
        for other_id, value in outputs.items():
            if other_id != port_id:
                value.close()
        return outputs[port_id]


@atexit.register
def _finish_pending_jobs():
    """Jobs still running at exit would call back into a finalising interpreter: stop them."""
    with _pending_lock:
        jobs = [entry.job for entry in _pending.values() if entry.job is not None]
    for job in jobs:
        try:
            job.cancel()
            job.wait()
        except Exception:  # noqa: BLE001
            pass
