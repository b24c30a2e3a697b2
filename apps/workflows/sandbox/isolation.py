"""Linux isolation primitives for the sandbox launcher: namespaces, a minimal root, resource
limits, dropped capabilities and a seccomp filter.

Imported only by ``launcher.py`` inside the sandbox's own interpreter (``python -I -S``):
standard library and ctypes only, nothing from the app. Every function raises
``IsolationError`` (an OSError) with what failed, so the launcher can report it.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import struct
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACE_FLAGS = (
    CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID
    | CLONE_NEWNET
)  # fmt: skip

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC = 32, 1024, 2048, 4096, 16384
MS_PRIVATE, MS_RELATIME = 1 << 18, 1 << 21
MNT_DETACH = 2
ST_RELATIME = 4096  # statvfs flag; the other ST_* flags equal their MS_* twins

PR_SET_PDEATHSIG, PR_SET_SECCOMP, PR_CAPBSET_DROP = 1, 22, 24
PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 47, 4
SECCOMP_MODE_FILTER = 2
_CAPABILITY_VERSION_3 = 0x20080522

# Syscall numbers by machine: x86_64 (asm/unistd_64.h) and aarch64 (asm-generic/unistd.h).
_ARCH = {
    "x86_64": {"audit": 0xC000003E, "pivot_root": 155, "capset": 126, "clone": 56},
    "aarch64": {"audit": 0xC00000B7, "pivot_root": 41, "capset": 91, "clone": 220},
}
# Refused with EPERM inside the sandbox: namespaces and mounts (a nested user namespace
# would hand the code capabilities), kernel-wide facilities, tracing, keyrings, and memory
# that outlives a mapping or escapes RLIMIT_AS/RLIMIT_DATA (memfd, SysV shm and queues).
_DENIED = {
    "x86_64": [
        165, 166, 155, 272, 308, 101, 310, 311, 246, 320, 175, 313, 176, 321, 298, 323, 250,
        248, 249, 319, 29, 68, 425, 426, 427, 304, 303, 163, 167, 168, 169, 170, 171, 179,
        103, 161, 428, 429, 430, 431, 432, 433, 442, 447, 438, 300, 212, 153, 312,
    ],
    "aarch64": [
        40, 39, 41, 97, 268, 117, 270, 271, 104, 294, 105, 273, 106, 280, 241, 282, 219,
        217, 218, 279, 194, 186, 425, 426, 427, 265, 264, 89, 224, 225, 142, 161, 162, 60,
        116, 51, 428, 429, 430, 431, 432, 433, 442, 447, 438, 262, 18, 58, 272,
    ],
}  # fmt: skip
_CLONE3 = 435  # same number on both: answered ENOSYS so libc falls back to clone()

_libc = ctypes.CDLL(None, use_errno=True)
# Linux with the calls we need (not macOS, not a libc without unshare): else the launcher
# reports that this host cannot isolate.
AVAILABLE = sys.platform.startswith("linux") and all(
    hasattr(_libc, name) for name in ("unshare", "mount", "umount2", "prctl", "syscall")
)
if AVAILABLE:
    _libc.syscall.restype = ctypes.c_long
    _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                            ctypes.c_char_p]  # fmt: skip
    _libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                            ctypes.c_ulong]  # fmt: skip


class IsolationError(OSError):
    """A step of building the sandbox failed; the message names the step."""


def _fail(what: str) -> IsolationError:
    code = ctypes.get_errno()
    return IsolationError(code, f"{what}: {os.strerror(code)}")


def machine() -> str:
    return os.uname().machine


def unshare(flags: int) -> None:
    if _libc.unshare(ctypes.c_int(flags)) != 0:
        raise _fail(f"unshare({flags:#x})")


def mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    encoded = [None if s is None else s.encode() for s in (source, target, fstype, data)]
    if _libc.mount(encoded[0], encoded[1], encoded[2], flags, encoded[3]) != 0:
        raise _fail(f"mount {source or fstype} on {target}")


def sethostname(name: str) -> None:
    raw = name.encode()
    if _libc.sethostname(raw, ctypes.c_size_t(len(raw))) != 0:
        raise _fail("sethostname")


def prctl(option: int, arg: int = 0) -> None:
    if _libc.prctl(option, arg, 0, 0, 0) != 0:
        raise _fail(f"prctl({option})")


def write_id_maps(pid: int | str, uid_map: str, gid_map: str, deny_setgroups: bool) -> None:
    """Map ids of a user namespace (``pid`` is a process in it, or "self")."""
    base = f"/proc/{pid}"
    if deny_setgroups:
        _write(f"{base}/setgroups", "deny")
    _write(f"{base}/uid_map", uid_map)
    _write(f"{base}/gid_map", gid_map)


def _write(path: str, text: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
    except OSError as exc:
        raise IsolationError(exc.errno or errno.EIO, f"write {path}: {exc.strerror}") from None


# -- the minimal root ------------------------------------------------------------------------


def build_root(
    *,
    readonly_dirs: Sequence[str],
    devices: Sequence[str],
    files: Mapping[str, bytes],
    mask_dirs: Sequence[str],
    tmp_bytes: int,
    after_open: Callable[[], None] | None = None,
) -> None:
    """Make a fresh tmpfs the root of this mount namespace (already unshared): ``readonly_dirs``
    bound read-only (nosuid, nodev), ``devices`` bound, ``files`` written, ``mask_dirs`` hidden
    under empty read-only tmpfs, a private size-limited ``/tmp``. The root is read-only and
    the old one (the host's) detached, so nothing else of the host is reachable.
    ``after_open`` runs once the sources are open (root switches to the sandbox user there:
    the sources may sit in directories only root can traverse, such as /root)."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    # Sources are opened before the new root covers the staging directory (/tmp), so a
    # source under /tmp still binds; mount(2) follows /proc/self/fd/N to the opened path.
    handles = [(path, os.open(path, os.O_PATH | os.O_CLOEXEC)) for path in readonly_dirs]
    device_handles = [(path, os.open(path, os.O_PATH | os.O_CLOEXEC)) for path in devices]
    if after_open is not None:
        after_open()
    stage = "/tmp"
    mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755,nr_inodes=4096")
    for link in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):  # merged-/usr symlinks
        host = f"/{link}"
        if os.path.islink(host):
            os.symlink(os.readlink(host), f"{stage}/{link}")
    for path, fd in handles:
        target = stage + path
        os.makedirs(target, exist_ok=True)
        mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
        _remount_readonly(target)
        os.close(fd)
    os.makedirs(f"{stage}/dev", exist_ok=True)
    for path, fd in device_handles:
        target = stage + path
        with open(target, "wb"):
            pass
        mount(f"/proc/self/fd/{fd}", target, None, MS_BIND)
        os.close(fd)
    for name, content in files.items():
        target = stage + name
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(content)
    for path in mask_dirs:
        if os.path.isdir(stage + path):
            mount("tmpfs", stage + path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k")
    os.makedirs(f"{stage}/tmp", exist_ok=True)
    mount(
        "tmpfs",
        f"{stage}/tmp",
        "tmpfs",
        MS_NOSUID | MS_NODEV | MS_NOEXEC,
        f"size={max(tmp_bytes, 65536)},mode=1777,nr_inodes=1024",
    )
    _pivot_root(stage)
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _remount_readonly(target: str) -> None:
    flags = os.statvfs(target).f_flag
    keep = flags & (MS_NOEXEC | MS_NOATIME | MS_NODIRATIME)
    if flags & ST_RELATIME:
        keep |= MS_RELATIME
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | keep)


def _pivot_root(new_root: str) -> None:
    os.chdir(new_root)
    number = _ARCH[machine()]["pivot_root"]
    if _libc.syscall(ctypes.c_long(number), b".", b".") != 0:
        raise _fail("pivot_root")
    if _libc.umount2(b".", MNT_DETACH) != 0:  # the old root, stacked under the new one
        raise _fail("umount old root")
    os.chdir("/")


# -- dropping privileges -----------------------------------------------------------------------


def set_limits(limits: Mapping[int, int | tuple[int, int]]) -> None:
    for which, value in limits.items():
        soft, hard = value if isinstance(value, tuple) else (value, value)
        try:
            resource.setrlimit(which, (soft, hard))
        except (OSError, ValueError) as exc:
            raise IsolationError(errno.EPERM, f"setrlimit({which}): {exc}") from None


def drop_capabilities() -> None:
    """Empty every capability set (bounding, ambient, effective, permitted, inheritable)."""
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            if ctypes.get_errno() == errno.EINVAL:  # past the last capability
                break
            raise _fail(f"drop capability {cap} from the bounding set")
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = struct.pack("Ii", _CAPABILITY_VERSION_3, 0)
    data = bytes(24)  # two {effective, permitted, inheritable} u32 triples, all zero
    number = _ARCH[machine()]["capset"]
    if _libc.syscall(ctypes.c_long(number), header, data) != 0:
        raise _fail("capset")


def install_seccomp() -> bool:
    """Refuse the syscalls in ``_DENIED`` (and namespace flags in clone). False when the
    machine is not one we have a syscall table for (the other layers still hold)."""
    arch = machine()
    if arch not in _ARCH:
        return False
    program = _seccomp_program(arch)

    class _Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    prog = _Prog(len(program) // 8, program)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0) != 0:
        raise _fail("seccomp")
    return True


def _seccomp_program(arch: str) -> bytes:
    ld_abs, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, kill = 0x7FFF0000, 0x80000000
    eperm, enosys = 0x00050000 | errno.EPERM, 0x00050000 | errno.ENOSYS
    table = _ARCH[arch]
    denied = _DENIED[arch]
    # Layout: arch check, load nr, [x32 range], denied..., clone3, clone, ALLOW,
    #         CLONE: load flags, jset namespaces, ALLOW; EPERM; ENOSYS
    code: list[tuple[int, int, int, int]] = [
        (ld_abs, 0, 0, 4),
        (jeq, 1, 0, table["audit"]),
        (ret, 0, 0, kill),
        (ld_abs, 0, 0, 0),
    ]
    checks: list[tuple[int, str]] = []
    if arch == "x86_64":
        checks.append((-1, "eperm"))  # placeholder for the x32 range check
    checks += [(nr, "eperm") for nr in denied]
    checks += [(_CLONE3, "enosys"), (table["clone"], "clone")]
    start = len(code)
    n = len(checks)
    clone_at = start + n + 1  # after the checks and the ALLOW
    eperm_at, enosys_at = clone_at + 3, clone_at + 4
    targets = {"eperm": eperm_at, "enosys": enosys_at, "clone": clone_at}
    for index, (nr, label) in enumerate(checks):
        here = start + index
        offset = targets[label] - here - 1
        if nr == -1:
            code.append((jge, offset, 0, 0x40000000))
        else:
            code.append((jeq, offset, 0, nr))
    code.append((ret, 0, 0, allow))
    code += [
        (ld_abs, 0, 0, 16),  # args[0], low 32 bits (little-endian): clone's flags
        (jset, 1, 0, NAMESPACE_FLAGS),  # a namespace flag: jump to EPERM
        (ret, 0, 0, allow),
        (ret, 0, 0, eperm),
        (ret, 0, 0, enosys),
    ]
    assert all(jt < 256 for _, jt, _, _ in code)
    return b"".join(struct.pack("HBBI", op, jt, jf, k) for op, jt, jf, k in code)


def close_fds_except(keep: Iterable[int]) -> None:
    kept = sorted(set(keep))
    low = 0
    for fd in [*kept, 65536]:
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
