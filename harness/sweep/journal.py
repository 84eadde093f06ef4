"""Which SQLite journal a results database gets: WAL, except on a network file system.

Why: WAL's shared-memory index (the `-shm` file) needs every process on one host, so "WAL
does not work over a network filesystem" (https://www.sqlite.org/wal.html, section 9). On
NFS, Lustre, GPFS or BeeGFS (a cluster's shared disk) the database uses the rollback journal
(`journal_mode=DELETE`), which works through the file system's POSIX locks. $HARNESS_NO_WAL=1
(`--no-wal`) asks for it anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

NO_WAL_ENV = "HARNESS_NO_WAL"
NETWORK_FS = ("nfs", "nfs4", "lustre", "gpfs", "beegfs", "cifs", "smb3", "ceph", "fuse.sshfs")


def mount_type(path: Path, mounts: str | None = None) -> str | None:
    """The file-system type of the mount holding `path` (the longest matching mount point in
    /proc/mounts); None where it cannot be told."""
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text()
        except OSError:
            return None
    target = str(path.expanduser().resolve())
    best, kind = "", None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def journal_mode(path: Path, mounts: str | None = None) -> str:
    """'DELETE' on a network file system or with $HARNESS_NO_WAL set, else 'WAL'."""
    if os.environ.get(NO_WAL_ENV, "").strip() not in ("", "0"):
        return "DELETE"
    kind = mount_type(path, mounts)
    return "DELETE" if kind is not None and kind.lower() in NETWORK_FS else "WAL"
