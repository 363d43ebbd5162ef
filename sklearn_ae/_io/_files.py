"""The file side of saving and loading: which paths are written and read, how.

``save`` writes only regular files. The data go to a temporary file in the
target's folder, created with the target's permission bits from its first
byte (``O_EXCL``, then ``fchmod`` before anything is written), flushed to
disk and renamed over the target only once complete. A symbolic link is
followed, so its target is replaced and the link kept. A path that ends with
a separator, names a folder, a FIFO, a device or a socket, or links to one,
is refused with a ``ValueError`` before anything is written.

The temporaries are named ``.<name>.<12 hex digits>.sklearn_ae-tmp`` and
locked (``flock``) by the save that writes them, for as long as it runs. A
save first removes the temporaries of its own target that nobody holds: what
a save killed with SIGKILL (or a power cut) left behind. The lock goes with
the process, so a save in progress, in this process or another, is never
disturbed. Where ``flock`` does not exist (Windows), only temporaries older
than a day are removed.

``load`` reads only a regular file (a symbolic link to one is followed): it
checks the path before opening it, opens it without blocking (a FIFO would
otherwise wait for a writer forever) and checks the open file again, so what
it reads is bounded by the size of a real file.
"""

import contextlib
import os
import re
import secrets
import stat
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["open_regular", "replace_atomically"]

_SUFFIX = ".sklearn_ae-tmp"
# Where temporaries cannot be locked, those older than this are stale.
_STALE_AFTER_S = 24 * 3600


_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _kind(mode):
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def _save_target(path):
    """The real path that ``save`` replaces, and its permission bits or None."""
    text = os.fsdecode(path)
    if not text or text.endswith((os.sep, os.altsep or os.sep)):
        raise ValueError(
            f"Cannot save to {text!r}: the path ends with a separator, so it "
            "names a folder; give a file name, such as "
            f"{os.path.join(text or '.', 'model.zip')!r}."
        )
    target = Path(os.path.realpath(text))
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return target, None
    if not stat.S_ISREG(info.st_mode):
        linked = "" if target == Path(os.path.abspath(text)) else f" (via {text!r})"
        raise ValueError(
            f"Cannot save to {os.fspath(target)!r}{linked}: it is "
            f"{_kind(info.st_mode)}; save() only creates or replaces regular "
            "files."
        )
    return target, stat.S_IMODE(info.st_mode)


def _temporaries(target):
    pattern = re.compile(re.escape(f".{target.name}.") + r"[0-9a-f]{12}" + _SUFFIX)
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    return [target.parent / n for n in names if pattern.fullmatch(n)]


def _remove_stale(target):
    """Remove the temporaries of ``target`` that no running save holds."""
    for tmp in _temporaries(target):
        with contextlib.suppress(OSError):
            info = os.lstat(tmp)
            if not stat.S_ISREG(info.st_mode):
                continue
            if fcntl is None:  # pragma: no cover - Windows
                if time.time() - info.st_mtime > _STALE_AFTER_S:
                    os.unlink(tmp)
                continue
            fd = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a save in progress
            else:
                os.unlink(tmp)
            finally:
                os.close(fd)  # (releases the lock)


def _create_temporary(target, mode):
    """``(fd, path)`` of a new, locked, empty temporary next to ``target``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    if mode is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}{_SUFFIX}")
        try:
            # Created with at most the final bits (the umask may take some
            # away); fchmod then gives exactly those, before any byte.
            fd = os.open(tmp, flags, mode)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)
            else:  # pragma: no cover - Windows
                os.chmod(tmp, mode)
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
                # A concurrent clean-up may have taken it between the open
                # and the lock: then start again with another name.
                if os.fstat(fd).st_ino != os.stat(tmp).st_ino:  # pragma: no cover
                    raise FileNotFoundError(tmp)
        except FileNotFoundError:  # pragma: no cover - see above
            os.close(fd)
            continue
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return fd, tmp


def replace_atomically(path, write):
    """Call ``write(file)`` on a new file that then replaces ``path``.

    See the module docstring for what is refused and guaranteed. A failed
    save (a full disk, an exception, Ctrl-C) never leaves a truncated file
    where a good one was, nor its temporary.
    """
    target, mode = _save_target(path)
    _remove_stale(target)
    fd, tmp = _create_temporary(target, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            # Checked again just before the rename (the lock is still held).
            _save_target(target)
            os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def open_regular(path, refuse):
    """Open ``path`` for reading if it is a regular file; yield ``(file, size)``.

    ``refuse(why)`` makes the exception raised for anything else.
    """
    info = os.stat(path)  # (FileNotFoundError and others as they are)
    if not stat.S_ISREG(info.st_mode):
        raise refuse(f"it is {_kind(info.st_mode)}, not a regular file")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # replaced since the check
            raise refuse(f"it is {_kind(info.st_mode)}, not a regular file")
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f, info.st_size
