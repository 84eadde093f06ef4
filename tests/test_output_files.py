"""harness.output_files: only regular files or new paths, atomic, permissions kept, one line."""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

import pytest

from harness import output_files as of
from harness.errors import HarnessError


def one_line_error(fn, *args, **kwargs) -> str:
    with pytest.raises(HarnessError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_replaces_a_regular_file_and_keeps_its_mode(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    path.chmod(0o604)
    of.write_text(path, "new")
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o604
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_a_new_file_gets_0666_less_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        of.write_bytes(tmp_path / "n", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "n").stat().st_mode) == 0o600


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    (tmp_path / "real").write_text("old")
    (tmp_path / "link").symlink_to("real")
    of.write_text(tmp_path / "link", "new")
    assert (tmp_path / "link").is_symlink() and (tmp_path / "real").read_text() == "new"


@pytest.mark.parametrize("kind", ["fifo", "folder", "socket", "dangling", "to-null"])
def test_anything_but_a_regular_file_is_refused_and_left_alone(tmp_path, kind):
    path = tmp_path / "target"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "socket":
        import socket

        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        s.close()
    elif kind == "dangling":
        path.symlink_to(tmp_path / "nowhere")
    else:
        path.symlink_to("/dev/null")
    before = os.lstat(path)
    msg = one_line_error(of.write_text, path, "x", hint="pass another --out")
    assert str(path) in msg and msg.endswith("pass another --out")
    after = os.lstat(path)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]


def test_a_failure_while_writing_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("old")

    def full(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp))

    match = r"cannot write .*a\.csv: no space left"
    with pytest.raises(HarnessError, match=match), of.atomic_path(path) as tmp:
        full(tmp)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["a.csv"]


def test_other_exceptions_also_clean_up(tmp_path):
    with pytest.raises(KeyError), of.atomic_path(tmp_path / "x"):
        raise KeyError("bug")
    assert os.listdir(tmp_path) == []


def test_several_files_are_replaced_together_or_not_at_all(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("old a")
    b.write_text("old b")
    calls = []

    def fsync(path: Path) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error", str(path))

    monkeypatch.setattr(of, "_fsync", fsync)
    msg = one_line_error(of.write_files, {a: "new a", b: "new b"})
    assert "b:" in msg  # the file whose temporary failed is named
    assert a.read_text() == "old a" and b.read_text() == "old b"
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]


def test_folders(tmp_path):
    assert of.ensure_folder(tmp_path / "x" / "y").is_dir()
    (tmp_path / "f").write_text("")
    msg = one_line_error(of.ensure_folder, tmp_path / "f" / "sub", "log folder", "logs are off")
    assert "log folder" in msg and "not a folder" in msg and msg.endswith("logs are off")
    msg = one_line_error(of.writable_folder, tmp_path / "f", "--plot folder")
    assert "a file is in the way" in msg
    assert of.writable_folder(tmp_path / "w") == tmp_path / "w" and os.listdir(tmp_path / "w") == []


def test_an_unwritable_folder_is_found_before_writing(tmp_path, monkeypatch):
    def denied(*_a, **_k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(of.os, "open", denied)
    msg = one_line_error(of.writable_folder, tmp_path, "--plot folder", "pass another --plot")
    assert "read-only file system" in msg and "pass another --plot" in msg


def test_a_log_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "w.log")
    done = threading.Event()

    def attempt() -> None:
        with pytest.raises(HarnessError, match="FIFO"):
            of.open_log(tmp_path / "w.log")
        done.set()

    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(5)
    assert done.is_set()
    with of.open_log(tmp_path / "new" / "w.log") as f:
        f.write(b"ok")
    assert (tmp_path / "new" / "w.log").read_bytes() == b"ok"


def test_paths_in_errors_are_one_line(tmp_path):
    path = tmp_path / "two\nlines"
    path.mkdir()
    msg = one_line_error(of.write_text, path, "x")
    assert "two\\nlines" in msg
