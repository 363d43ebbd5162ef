"""Guards around a fit: one fit at a time per estimator, a rollback that
Ctrl-C cannot cut in half.

**One at a time.** ``fit`` and ``partial_fit`` on one estimator hold that
estimator's lock (a re-entrant ``threading.RLock``), so calls from several
threads run one after the other, each on the state the previous one left:
four ``partial_fit`` calls give four more epochs. The lock is made on the
first fit and lives only in the object: pickling, ``copy.deepcopy`` and
``save`` drop it, and ``clone`` builds a new estimator from the parameters,
so copies never share it.

**An uninterruptible rollback.** When a fit fails, the estimator is put back
as it was (weights, optimizer state, history, fitted attributes). A second
Ctrl-C during that restore would leave it half restored; while it runs, a
SIGINT is held back and delivered, to the handler that was in place, once
the restore is complete. Python delivers signals only to the main thread:
there the handler is swapped for the restore; in other threads no
KeyboardInterrupt can arrive from a signal, so nothing needs to be held.
"""

import contextlib
import signal
import threading

__all__ = ["drop_fit_lock", "fit_lock", "sigint_deferred"]

_LOCK = "_fit_lock"
_MAKING = threading.Lock()


def fit_lock(estimator):
    """The lock that serialises the fits of ``estimator``, made on first use."""
    lock = estimator.__dict__.get(_LOCK)
    if lock is None:
        with _MAKING:
            lock = estimator.__dict__.setdefault(_LOCK, threading.RLock())
    return lock


def drop_fit_lock(state):
    """``state`` (an estimator's ``__dict__`` copy) without its lock."""
    state.pop(_LOCK, None)
    return state


@contextlib.contextmanager
def sigint_deferred():
    """Hold SIGINT back in this block; deliver it at the end (main thread)."""
    previous = signal.getsignal(signal.SIGINT)
    held = []
    swapped = False
    if threading.current_thread() is threading.main_thread() and callable(previous):
        try:
            signal.signal(signal.SIGINT, lambda signum, frame: held.append(frame))
            swapped = True
        except ValueError:  # pragma: no cover - not the main interpreter
            pass
    try:
        yield
    finally:
        if swapped:
            signal.signal(signal.SIGINT, previous)
            if held:
                previous(signal.SIGINT, held[-1])
