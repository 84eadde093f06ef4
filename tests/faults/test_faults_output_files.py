"""Fault cases for output files: every file the harness writes (export, report, figures, --plot,
sweep logs) is a regular file or a new path, written atomically, with its permissions kept; a
device, FIFO, folder or symbolic link is never replaced, and a failure is one line.

The cases that name the machine's own /dev/null and /dev/full first ask `writable_target`
in-process whether it refuses them, and only then run the CLI: a regression cannot turn this
machine's device nodes into CSV files (as root it could).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import pytest
from framework import Cli, FaultCase, Outcome, check, harness, ids, run_case

from harness.errors import HarnessError
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.sweep.store import ResultStore

AREA = "output files"
ROWS = 2


def _make_db(tmp: Path, arch: str = "net_a", error: str = "boom", ok: bool = False) -> Path:
    """A database of ROWS rows: failed ones, or (`ok`) successful ones the report can plot."""
    import fake_jobs

    db = tmp / "r.sqlite"
    configs = [MeasurementConfig(arch, batch_size=b, min_seconds=0.0) for b in range(1, ROWS + 1)]
    with ResultStore(db) as store:
        store.put_many(
            fake_jobs.succeed(c)
            if ok
            else Measurement.create(
                c, status="error", error=error, architecture={"name": arch, "benchmark": "squad11"}
            )
            for c in configs
        )
    return db


def _lost(db: Path) -> int:
    with ResultStore(db, readonly=True) as store:
        return ROWS - store.count()


def _refused(cli: Cli, *words: str) -> tuple[bool, str]:
    """Exit 2, one line that names what it should, no traceback."""
    ok = cli.returncode == 2 and cli.one_line_error and all(w in cli.stderr for w in words)
    return ok, f"rc {cli.returncode}; stderr: {cli.stderr.strip()[-400:]}"


def _export(tmp: Path, out: Path | str, *more: str) -> tuple[Cli, Path]:
    db = _make_db(tmp)
    return harness("export", "--db", str(db), "--out", str(out), *more, cwd=tmp), db


def _no_temp_files(folder: Path) -> bool:
    return not any(p.name.endswith(".tmp") for p in folder.iterdir())


def _same_node(path: Path, before: os.stat_result) -> bool:
    after = os.lstat(path)
    return (after.st_ino, after.st_mode, after.st_rdev) == (
        before.st_ino,
        before.st_mode,
        before.st_rdev,
    )


# -- not a regular file ----------------------------------------------------------------------


def _system_device(name: str) -> Callable[[Path], Outcome]:
    def run(tmp: Path) -> Outcome:
        from harness.output_files import writable_target  # no guard, no CLI run

        dev = Path("/dev") / name
        before = os.lstat(dev)
        try:
            writable_target(dev)
            return Outcome(held=False, detail=f"{dev} not refused in-process; CLI not run")
        except HarnessError:
            pass
        cli, db = _export(tmp, dev)
        held, detail = _refused(cli, str(dev), "device")
        survived = _same_node(dev, before) and stat.S_ISCHR(os.lstat(dev).st_mode)
        return Outcome(held and survived, _lost(db), cli.traceback, detail)

    return run


def _private_device(tmp: Path) -> Outcome:
    """A node of its own (root: a copy of /dev/full made with mknod; else a FIFO), so even
    broken code can only replace the case's own node."""
    node = tmp / "full"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except (PermissionError, OSError):
        os.mkfifo(node)
    before = os.lstat(node)
    cli, db = _export(tmp, node)
    held, detail = _refused(cli, str(node))
    return Outcome(held and _same_node(node, before), _lost(db), cli.traceback, detail)


def _fifo(tmp: Path) -> Outcome:
    fifo = tmp / "pipe.csv"
    os.mkfifo(fifo)
    before = os.lstat(fifo)
    cli, db = _export(tmp, fifo)
    held, detail = _refused(cli, str(fifo), "FIFO")
    return Outcome(held and _same_node(fifo, before), _lost(db), cli.traceback, detail)


def _directory(tmp: Path) -> Outcome:
    folder = tmp / "out.csv"
    folder.mkdir()
    (folder / "keep").write_text("x")
    cli, db = _export(tmp, folder)
    held, detail = _refused(cli, str(folder), "folder")
    kept = folder.is_dir() and (folder / "keep").read_text() == "x"
    return Outcome(held and kept, _lost(db), cli.traceback, detail)


def _symlink_to_file(tmp: Path) -> Outcome:
    real = tmp / "real.csv"
    real.write_text("old\n")
    link = tmp / "link.csv"
    link.symlink_to(real)
    cli, db = _export(tmp, link)
    through = "status" in real.read_text()
    held = cli.returncode == 0 and link.is_symlink() and through and _no_temp_files(tmp)
    return Outcome(held, _lost(db), cli.traceback, f"rc {cli.returncode}: {cli.stderr[-300:]}")


def _dangling_symlink(tmp: Path) -> Outcome:
    link = tmp / "link.csv"
    link.symlink_to(tmp / "missing" / "target.csv")
    cli, db = _export(tmp, link)
    held, detail = _refused(cli, str(link), "symbolic link")
    kept = link.is_symlink() and not (tmp / "missing").exists()
    return Outcome(held and kept, _lost(db), cli.traceback, detail)


def _symlink_to_dev_null(tmp: Path) -> Outcome:
    link = tmp / "null.csv"
    link.symlink_to("/dev/null")
    before = os.lstat("/dev/null")
    cli, db = _export(tmp, link)
    held, detail = _refused(cli, str(link), "/dev/null")
    kept = link.is_symlink() and os.readlink(link) == "/dev/null"
    return Outcome(
        held and kept and _same_node(Path("/dev/null"), before), _lost(db), cli.traceback, detail
    )


# -- permissions -----------------------------------------------------------------------------


def _mode_kept(mode: int) -> Callable[[Path], Outcome]:
    def run(tmp: Path) -> Outcome:
        out = tmp / "out.csv"
        out.write_text("old\n")
        out.chmod(mode)
        cli, db = _export(tmp, out)
        got = stat.S_IMODE(out.stat().st_mode)
        held = cli.returncode == 0 and got == mode and "status" in out.read_text()
        return Outcome(held, _lost(db), cli.traceback, f"rc {cli.returncode}, mode {got:o}")

    return run


def _new_file_mode(tmp: Path) -> Outcome:
    db = _make_db(tmp)
    old = os.umask(0o027)
    try:
        with ResultStore(db, readonly=True) as store:
            path, _ = store.export(tmp / "new.csv")
    finally:
        os.umask(old)
    got = stat.S_IMODE(path.stat().st_mode)
    return Outcome(got == 0o640, _lost(db), detail=f"mode {got:o}, want 640")


@contextlib.contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """A folder nobody can create files in: root ignores permission bits, so as root the
    folder is made immutable (chattr +i), which binds root too."""
    folder.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(folder)], check=True, capture_output=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=False, capture_output=True)
    else:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)


def _read_only_folder(tmp: Path) -> Outcome:
    folder = tmp / "ro"
    with _read_only(folder):
        cli, db = _export(tmp, folder / "out.csv")
        empty = not any(folder.iterdir())
    held, detail = _refused(cli, str(folder / "out.csv"), "--out")
    return Outcome(held and empty, _lost(db), cli.traceback, detail)


def _missing_parent(tmp: Path) -> Outcome:
    out = tmp / "new" / "deeper" / "out.csv"
    cli, db = _export(tmp, out)
    held = cli.returncode == 0 and "status" in out.read_text()
    return Outcome(held, _lost(db), cli.traceback, f"rc {cli.returncode}: {cli.stderr[-300:]}")


def _parent_is_a_file(tmp: Path) -> Outcome:
    (tmp / "afile").write_text("x")
    cli, db = _export(tmp, tmp / "afile" / "out.csv")
    held, detail = _refused(cli, str(tmp / "afile"))
    return Outcome(held and (tmp / "afile").read_text() == "x", _lost(db), cli.traceback, detail)


def _suffix_disagrees(tmp: Path) -> Outcome:
    out = tmp / "x.csv"
    cli, db = _export(tmp, out, "--format", "parquet")
    held, detail = _refused(cli, ".csv", "parquet")
    return Outcome(held and not out.exists(), _lost(db), cli.traceback, detail)


# -- a full disk -----------------------------------------------------------------------------


def _enospc(*_a: object, **_k: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _export_disk_full(tmp: Path) -> Outcome:
    db = _make_db(tmp)
    out = tmp / "out.csv"
    out.write_text("previous export\n")
    with mock.patch("harness.output_files._fsync", _enospc), ResultStore(db, readonly=True) as s:
        try:
            s.export(out)
            return Outcome(held=False, detail="no error on a full disk")
        except HarnessError as exc:
            msg = str(exc)
    held = (
        out.read_text() == "previous export\n"
        and _no_temp_files(tmp)
        and "\n" not in msg
        and str(out) in msg
        and "no space" in msg
    )
    return Outcome(held, _lost(db), detail=msg)


def _report(tmp: Path, db: Path) -> None:
    from harness.present.report import write_report

    write_report(db, tmp / "out", include_published=False)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _report_disk_full(patch_target: str, replacement: Callable[..., object]):
    def run(tmp: Path) -> Outcome:
        db = _make_db(tmp, ok=True)
        _report(tmp, db)
        before = _snapshot(tmp / "out")
        (tmp / "second").mkdir()
        other = _make_db(tmp / "second", arch="other", ok=True)  # a report unlike the first
        with mock.patch(patch_target, replacement):
            try:
                _report(tmp, other)
                return Outcome(held=False, detail="no error on a full disk")
            except HarnessError as exc:
                msg = str(exc)
        after = _snapshot(tmp / "out")
        figures = any(name.startswith("figures/") for name in before)
        held = figures and after == before and "\n" not in msg and "no space" in msg
        return Outcome(held, _lost(db), detail=f"{msg}; files {sorted(after)}")

    return run


def _half_then_enospc(self: object, fname: object, **_k: object) -> None:
    Path(fname).write_bytes(b"\x89PNG half")  # type: ignore[arg-type]
    _enospc()


# -- report.md -------------------------------------------------------------------------------


def _markdown_escapes(tmp: Path) -> Outcome:
    db = _make_db(tmp, arch="evil|name\nnext`<b>", error="bad | thing\nsecond line <script>")
    _report(tmp, db)
    md = (tmp / "out" / "report.md").read_text()
    table = [ln for ln in md.splitlines() if ln.startswith("|")]
    cols = {len(ln.replace("\\|", "").split("|")) for ln in table[:4]}
    held = (
        len(cols) == 1
        and "evil\\|name next\\`&lt;b&gt;" in md
        and "<script>" not in md
        and "bad \\| thing" in md
    )
    return Outcome(held, _lost(db), detail=f"columns per row {cols}; {table[2:4]}")


def _report_over_symlink_to_dev_null(tmp: Path) -> Outcome:
    db = _make_db(tmp)
    out = tmp / "out"
    out.mkdir()
    (out / "report.html").symlink_to("/dev/null")
    cli = harness("report", "--db", str(db), "--out", str(out), "--no-published", cwd=tmp)
    held, detail = _refused(cli, "report.html", "/dev/null")
    kept = os.readlink(out / "report.html") == "/dev/null" and not (out / "report.md").exists()
    return Outcome(held and kept, _lost(db), cli.traceback, detail)


# -- --plot and sweep logs -------------------------------------------------------------------


def _plot_read_only(*args: str) -> Callable[[Path], Outcome]:
    def run(tmp: Path) -> Outcome:
        folder = tmp / "plots"
        with _read_only(folder):
            cli = harness(*args, "--plot", str(folder), cwd=tmp)
        held, detail = _refused(cli, str(folder), "--plot")
        return Outcome(held, traceback=cli.traceback, detail=detail)

    return run


def _plot_is_a_file(tmp: Path) -> Outcome:
    (tmp / "plots").write_text("x")
    cli = harness(
        "simulate", "--sims", "2", "--sizes", "15,30", "--plot", str(tmp / "plots"), cwd=tmp
    )
    held, detail = _refused(cli, str(tmp / "plots"), "--plot")
    return Outcome(
        held and (tmp / "plots").read_text() == "x", traceback=cli.traceback, detail=detail
    )


def _sweep(tmp: Path, log_dir: Path) -> tuple[int, list[str]]:
    import fake_jobs

    from harness.sweep.loop import run_sweep

    said: list[str] = []
    result = run_sweep(
        fake_jobs.sweep_configs(ROWS, 0.0),
        tmp / "s.sqlite",
        target=fake_jobs.target("succeed"),
        log_dir=log_dir,
        progress=False,
        echo=said.append,
    )
    with ResultStore(tmp / "s.sqlite", readonly=True) as store:
        return ROWS - min(store.count("ok"), result.count("ok")), said


def _uncreatable_log_folder(tmp: Path) -> Outcome:
    (tmp / "reports").write_text("a file where the folder should be")
    lost, said = _sweep(tmp, tmp / "reports" / "logs")
    warnings = [m for m in said if "warning" in m]
    held = len(warnings) == 1 and "log folder" in warnings[0] and "\n" not in warnings[0]
    return Outcome(held, lost, detail=f"messages: {said}")


def _log_is_a_fifo(tmp: Path) -> Outcome:
    import fake_jobs

    logs = tmp / "logs"
    logs.mkdir()
    fifos = []
    for config in fake_jobs.sweep_configs(ROWS, 0.0):
        fifo = logs / f"{config.architecture}-{config.key()}.log"
        os.mkfifo(fifo)
        fifos.append(fifo)
    lost, said = _sweep(tmp, logs)
    held = all(stat.S_ISFIFO(os.lstat(f).st_mode) for f in fifos)
    return Outcome(held, lost, detail=f"messages: {said}")


CASES = [
    FaultCase("export to /dev/null", AREA, _system_device("null"), tags=("root",)),
    FaultCase("export to /dev/full", AREA, _system_device("full"), tags=("root",)),
    FaultCase("export to a device node of its own", AREA, _private_device, tags=("root",)),
    FaultCase("export to a FIFO", AREA, _fifo),
    FaultCase("export to a folder", AREA, _directory),
    FaultCase("export through a symlink to a file", AREA, _symlink_to_file),
    FaultCase("export to a dangling symlink", AREA, _dangling_symlink),
    FaultCase("export to a symlink to /dev/null", AREA, _symlink_to_dev_null),
    FaultCase("export keeps mode 0644", AREA, _mode_kept(0o644)),
    FaultCase("export keeps mode 0600", AREA, _mode_kept(0o600)),
    FaultCase("export new file mode from umask", AREA, _new_file_mode),
    FaultCase("export into a read-only folder", AREA, _read_only_folder),
    FaultCase("export creates a missing parent folder", AREA, _missing_parent),
    FaultCase("export under a file", AREA, _parent_is_a_file),
    FaultCase("export suffix disagrees with --format", AREA, _suffix_disagrees),
    FaultCase("export disk full keeps the old file", AREA, _export_disk_full),
    FaultCase(
        "report disk full writing the pages keeps the old report",
        AREA,
        _report_disk_full("harness.output_files._fsync", _enospc),
    ),
    FaultCase(
        "report disk full saving a figure keeps the old report",
        AREA,
        _report_disk_full("matplotlib.figure.Figure.savefig", _half_then_enospc),
    ),
    FaultCase("report.md escapes a name and an error", AREA, _markdown_escapes),
    FaultCase("report.html a symlink to /dev/null", AREA, _report_over_symlink_to_dev_null),
    FaultCase(
        "fit --plot read-only folder",
        AREA,
        _plot_read_only("fit", "--benchmark", "imagenet", "--measure", "per-pass"),
    ),
    FaultCase(
        "simulate --plot read-only folder",
        AREA,
        _plot_read_only("simulate", "--sims", "2", "--sizes", "15,30", "--no-crossovers"),
    ),
    FaultCase("simulate --plot is a file", AREA, _plot_is_a_file),
    FaultCase("sweep with an uncreatable log folder", AREA, _uncreatable_log_folder),
    FaultCase("sweep log path is a FIFO", AREA, _log_is_a_fifo),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_fault_case(case: FaultCase, tmp_path: Path) -> None:
    check(run_case(case, tmp_path), case)
