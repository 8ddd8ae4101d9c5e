"""Can the job user read, write or execute a path?  Checked before anything is submitted.

HTCondor jobs run as an unprivileged account (``nobody`` on the personal pool
when root submits; the submitter elsewhere).  A path it cannot reach does not
fail at submit time: the job is held ("Cannot access initial working
directory"), exits 126, or a starter hangs in Preempting for the job lease.
So every path a job needs is checked up front from its permission bits and
the first one that fails is named, with its mode and owner.

POSIX mode bits only: ACLs and root-squashing network filesystems are not
modelled (they can only make a path *less* reachable than checked, and then
the job's own error names it).
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from eventlens.errors import EventLensError

READ, WRITE, EXECUTE = 4, 2, 1


class JobAccessError(EventLensError, PermissionError):
    """A path a job needs is not usable by the job user."""


@dataclass(frozen=True)
class Identity:
    """A uid with its groups, as the job will run."""

    name: str
    uid: int
    gids: frozenset[int]

    @classmethod
    def of_user(cls, name: str) -> Identity:
        entry = pwd.getpwnam(name)
        gids = {entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if name in g.gr_mem}
        return cls(name, entry.pw_uid, frozenset(gids))

    @classmethod
    def of_uid(cls, uid: int, gid: int | None = None) -> Identity:
        try:
            ident = cls.of_user(pwd.getpwuid(uid).pw_name)
        except KeyError:
            return cls(str(uid), uid, frozenset({gid} if gid is not None else ()))
        return ident if gid is None else cls(ident.name, uid, ident.gids | {gid})


@dataclass(frozen=True)
class Need:
    """A path a job needs, what for, and how: any of ``r``, ``w``, ``x``."""

    path: Path
    what: str
    how: str = "r"


def _allowed(st: os.stat_result, who: Identity, bits: int) -> bool:
    if who.uid == 0:  # root: everything but executing a file with no x bit at all
        return not (bits & EXECUTE) or stat.S_ISDIR(st.st_mode) or bool(st.st_mode & 0o111)
    if st.st_uid == who.uid:
        perm = (st.st_mode >> 6) & 7
    elif st.st_gid in who.gids:
        perm = (st.st_mode >> 3) & 7
    else:
        perm = st.st_mode & 7
    return perm & bits == bits


def _describe(path: Path, st: os.stat_result) -> str:
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = str(st.st_uid)
    return f"{path} (mode {stat.S_IMODE(st.st_mode):o}, owner {owner})"


def problem(path: Path, who: Identity, how: str = "r") -> str | None:
    """Why ``who`` cannot use ``path`` as ``how``; None when it can.

    Every ancestor must be traversable (x); symlinks are followed and their
    targets checked the same way, so a venv python that links into a 0700
    home directory is caught.
    """
    path = Path(os.path.abspath(path))  # noqa: PTH100 (resolve() would follow the symlinks)
    seen: set[Path] = set()
    return _problem(path, who, how, seen)


def _problem(path: Path, who: Identity, how: str, seen: set[Path]) -> str | None:
    if path in seen:
        return None
    seen.add(path)
    for parent in reversed(path.parents):
        try:
            st = parent.stat()
        except OSError as exc:
            return f"{parent} cannot be inspected ({exc.strerror})"
        if not _allowed(st, who, EXECUTE):
            return f"{_describe(parent, st)} is not traversable by {who.name}"
    try:
        lst = path.lstat()
    except FileNotFoundError:
        return f"{path} does not exist"
    if stat.S_ISLNK(lst.st_mode):
        target = path.parent / path.readlink()
        return _problem(Path(os.path.normpath(target)), who, how, seen)
    bits = 0
    if "r" in how:
        bits |= READ | (EXECUTE if stat.S_ISDIR(lst.st_mode) else 0)
    if "w" in how:
        bits |= WRITE | (EXECUTE if stat.S_ISDIR(lst.st_mode) else 0)
    if "x" in how:
        bits |= EXECUTE
    if not _allowed(lst, who, bits):
        verb = {"r": "readable", "w": "writable", "x": "executable"}
        want = " and ".join(verb[c] for c in how if c in verb)
        return f"{_describe(path, lst)} is not {want} by {who.name}"
    return None


def check(needs: Iterable[Need], who: Identity) -> None:
    """Raise JobAccessError naming every path ``who`` cannot use (one line per path)."""
    problems = []
    for need in needs:
        why = problem(need.path, who, need.how)
        if why:
            problems.append(f"{need.what}: {why}")
    if problems:
        head = f"HTCondor jobs run as {who.name} (uid {who.uid}) and cannot use "
        raise JobAccessError(head + "; ".join(problems))


def make_job_dir(path: Path, who: Identity) -> Path:
    """Create ``path`` (and parents) so that ``who`` can write into it.

    When we are root submitting for another account, the directory is handed
    to that account (chown) rather than opened to the world.
    """
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0 and who.uid != 0:
        os.chown(path, who.uid, -1)
    return path


def owned_dir(path: Path, mode: int = 0o755) -> Path:
    """Create ``path`` for us, or accept it only if it is ours: a real directory (not a
    symlink) owned by this user and writable by no one else.

    The default scratch folder (``/tmp/eventlens-condor-<uid>``) has a
    predictable name in a world-writable place; someone else could create it
    first (or make it a symlink) and read or swap the job logs and scripts
    written there.  Such a folder is refused with one line saying what to do.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode)  # not exist_ok: an existing one is checked below
        path.chmod(mode)
        return path
    except FileExistsError:
        pass
    st = path.lstat()
    problem_text = None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        problem_text = "is not a plain directory (a symlink or a file)"
    elif st.st_uid != os.geteuid():
        problem_text = f"is owned by uid {st.st_uid}, not by you (uid {os.geteuid()})"
    elif st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        problem_text = "is writable by other users"
    if problem_text:
        raise JobAccessError(
            f"{path} {problem_text}: refusing to use it as the HTCondor scratch folder; "
            "remove it, or set runtime_dir in configs/condor.yaml to a folder of your own"
        )
    return path
