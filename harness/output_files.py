"""Writing output files so that a write can never clobber what it should not.

Every file the harness writes for a user (exports, the report, figures, plots, worker logs) goes
through here, because a plain "write a temporary file and rename it over the target" replaces
whatever the target was: run as root, `--out /dev/full` turned the device node into a CSV, and a
FIFO or a symbolic link was replaced by a regular file. So:

- only a regular file or a new path is written; a device, FIFO, socket or folder is refused, and
  a symbolic link is written through to its regular-file target (the link itself stays);
- the content goes to a temporary file beside the target, is fsynced, then `os.replace`d over it
  (POSIX rename(2) is atomic: a reader sees the old file or the new one, never a truncated one);
- the new file keeps the target's permissions (and, as root, its owner); a new file gets
  0666 & ~umask, applied by the kernel when the temporary file is created with mode 0666, so the
  process umask is never changed to read it (os.umask is process-wide and not thread-safe);
- on any failure the temporary file is removed and an OSError (ENOSPC, EACCES, EROFS...) becomes
  a one-line `HarnessError` naming the path, the reason and what to do.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from harness.errors import HarnessError

DEFAULT_HINT = "write somewhere else"
NEW_FILE_MODE = 0o666  # before the umask, as open(2) and touch(1) create files
_TEMP_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOFOLLOW", 0)
)
_MAX_STEM = 200  # keeps ".<name>.<random>.tmp" under the usual 255-byte name limit
_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "its folder does not exist",
    errno.ENOTDIR: "part of the path is not a folder",
    errno.EISDIR: "it is a folder",
}


def shown(path: str | os.PathLike[str]) -> str:
    """A path as one line of text: control characters (a newline in a name) are escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in os.fspath(path))


def os_error(path: str | os.PathLike[str], exc: OSError, hint: str = DEFAULT_HINT) -> HarnessError:
    """An OSError met while writing `path` as a one-line HarnessError: path, reason, what to do."""
    reason = _REASONS.get(exc.errno or 0) or exc.strerror or type(exc).__name__
    return HarnessError(f"cannot write {shown(path)}: {reason}; {hint}")


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


@dataclass(frozen=True)
class Target:
    """The file a write will replace: the path itself or a symbolic link's resolved target, and
    the permissions and owner to give the new file (None: a new file, umask applies)."""

    path: Path
    mode: int | None = None
    owner: tuple[int, int] | None = None


def writable_target(path: str | os.PathLike[str], hint: str = DEFAULT_HINT) -> Target:
    """The regular file (or new path) to write for `path`; anything else is a HarnessError."""
    p = Path(path).expanduser()
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return Target(p)
    except OSError as exc:
        raise os_error(p, exc, hint) from None
    real = p
    if stat.S_ISLNK(st.st_mode):
        real = Path(os.path.realpath(p))
        try:
            st = os.stat(real)
        except FileNotFoundError:
            raise HarnessError(
                f"cannot write {shown(p)}: it is a symbolic link to {shown(real)}, which does not "
                f"exist; remove the link or {hint}"
            ) from None
        except OSError as exc:
            raise os_error(p, exc, hint) from None
        if not stat.S_ISREG(st.st_mode):
            raise HarnessError(
                f"cannot write {shown(p)}: it is a symbolic link to {shown(real)}, "
                f"{_kind(st.st_mode)}, not a regular file; {hint}"
            )
    elif not stat.S_ISREG(st.st_mode):
        raise HarnessError(f"cannot write {shown(p)}: it is {_kind(st.st_mode)}; {hint}")
    return Target(real, stat.S_IMODE(st.st_mode), (st.st_uid, st.st_gid))


def ensure_folder(
    path: str | os.PathLike[str], what: str = "output folder", hint: str = DEFAULT_HINT
) -> Path:
    """Create a folder (and its parents) for output; a failure is one line naming it (an
    existing folder is fine, a file in its place is not)."""
    p = Path(path).expanduser()
    try:
        p.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise HarnessError(
            f"cannot create {what} {shown(p)}: a file is in the way; {hint}"
        ) from None
    except OSError as exc:
        reason = _REASONS.get(exc.errno or 0) or exc.strerror or type(exc).__name__
        raise HarnessError(f"cannot write to {what} {shown(p)}: {reason}; {hint}") from None
    return p


def writable_folder(
    path: str | os.PathLike[str], what: str = "output folder", hint: str = DEFAULT_HINT
) -> Path:
    """`ensure_folder`, then proof that a file can be created in it (a probe file, removed at
    once): a long computation learns before it starts, not after, that its output has nowhere
    to go. Permission bits alone cannot tell (root ignores them; a read-only mount does not)."""
    p = ensure_folder(path, what, hint)
    probe = _create_temp_or_fail(Target(p / ".write-probe"), p, hint)
    with suppress(OSError):
        os.unlink(probe)
    return p


def _create_temp_or_fail(target: Target, shown_as: Path, hint: str) -> Path:
    try:
        return _create_temp(target)
    except OSError as exc:
        raise os_error(shown_as, exc, hint) from None


def _create_temp(target: Target) -> Path:
    """An empty temporary file beside the target, with the target's permissions."""
    stem = target.path.name[:_MAX_STEM]
    while True:
        tmp = target.path.parent / f".{stem}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, _TEMP_FLAGS, NEW_FILE_MODE if target.mode is None else 0o600)
        except FileExistsError:
            continue
        break
    try:
        if target.mode is not None:
            os.fchmod(fd, target.mode)
            if target.owner is not None and os.geteuid() == 0:
                with suppress(OSError):  # best effort: keep a user's file theirs
                    os.fchown(fd, *target.owner)
    finally:
        os.close(fd)
    return tmp


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; some file systems cannot, which costs nothing here."""
    with suppress(OSError):
        _fsync(folder)


@contextmanager
def atomic_paths(
    paths: Sequence[str | os.PathLike[str]], hint: str = DEFAULT_HINT
) -> Iterator[list[Path]]:
    """Temporary files to write, one per path; when the block ends they are fsynced and only
    then renamed over their targets, all of them, so a failure while writing (a full disk)
    replaces none. On any failure the temporary files are removed."""
    targets = [writable_target(p, hint) for p in paths]
    temps: list[Path] = []
    current = targets[0].path if targets else Path()
    try:
        for t in targets:
            current = t.path
            temps.append(_create_temp(t))
        yield list(temps)
        for t, tmp in zip(targets, temps, strict=True):
            current = t.path
            _fsync(tmp)
        for t, tmp in zip(targets, temps, strict=True):
            current = t.path
            os.replace(tmp, t.path)
        for folder in {t.path.parent for t in targets}:
            _fsync_folder(folder)
    except OSError as exc:
        name = os.fspath(exc.filename) if exc.filename is not None else None
        for t, tmp in zip(targets, temps, strict=False):
            if name == os.fspath(tmp):
                current = t.path
        raise os_error(current, exc, hint) from None
    finally:
        for tmp in temps:
            with suppress(OSError):
                os.unlink(tmp)


@contextmanager
def atomic_path(path: str | os.PathLike[str], hint: str = DEFAULT_HINT) -> Iterator[Path]:
    """One temporary file to write by name (pandas, matplotlib); see `atomic_paths`."""
    with atomic_paths([path], hint) as (tmp,):
        yield tmp


def write_files(contents: Mapping[Path, bytes | str], hint: str = DEFAULT_HINT) -> list[Path]:
    """Write several files together (text as UTF-8): all are written and synced before any is
    replaced. Returns the paths as given."""
    paths = list(contents)
    with atomic_paths(paths, hint) as temps:
        for path, tmp in zip(paths, temps, strict=True):
            data = contents[path]
            tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return paths


def write_bytes(path: str | os.PathLike[str], data: bytes, hint: str = DEFAULT_HINT) -> Path:
    """Write one file atomically."""
    return write_files({Path(path): data}, hint)[0]


def write_text(path: str | os.PathLike[str], text: str, hint: str = DEFAULT_HINT) -> Path:
    """Write one UTF-8 text file atomically."""
    return write_files({Path(path): text}, hint)[0]


def open_log(path: str | os.PathLike[str], hint: str = DEFAULT_HINT) -> IO[bytes]:
    """A log file opened for writing and reading back (its folder created). It is a stream, so it
    is not atomic, but it is never a device, FIFO or folder (opening a FIFO would block)."""
    p = Path(path).expanduser()
    ensure_folder(p.parent, "log folder", hint)
    target = writable_target(p, hint)
    try:
        return open(target.path, "w+b")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise os_error(p, exc, hint) from None
