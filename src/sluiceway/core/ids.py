"""Random identifiers (message ids, request ids, event ids) without a syscall each.

`uuid.uuid4()` reads 16 bytes from the kernel per call; on a virtual machine that one
`getrandom` costs more than the rest of accepting a message. Here each thread draws the same
kernel randomness in blocks of 4 KiB and cuts version-4 UUIDs from it. A forked child drops
the parent's blocks, so two processes never hand out the same id.
"""

from __future__ import annotations

import hashlib
import os
import threading

_BLOCK = 4096


class _Pool(threading.local):
    def __init__(self) -> None:
        self.block = b""
        self.at = _BLOCK


_pool = _Pool()


def _fork_reset() -> None:
    global _pool
    _pool = _Pool()


os.register_at_fork(after_in_child=_fork_reset)


def random_bytes(count: int) -> bytes:
    """`count` (at most 4096) bytes from the kernel's CSPRNG, drawn in blocks."""
    pool = _pool
    if pool.at + count > _BLOCK:
        pool.block = os.urandom(_BLOCK)
        pool.at = 0
    start = pool.at
    pool.at = start + count
    return pool.block[start : start + count]


def uuid4_hex() -> str:
    """A random (version 4, RFC 4122 variant) UUID as 32 hex digits, like `UUID.hex`."""
    raw = int.from_bytes(random_bytes(16))
    raw = (raw & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)
    return f"{raw:032x}"


def uuid4() -> str:
    """A random UUID in its canonical form, like `str(uuid.uuid4())`."""
    h = uuid4_hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def short_id(*parts: str, length: int = 10) -> str:
    """A stable id of AWS's shape (an API's ``a1b2c3d4e5``) for what `parts` name."""
    digest = hashlib.sha512("/".join(parts).encode()).hexdigest()  # up to 64 characters
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[int(digest[i : i + 2], 16) % 36] for i in range(0, 2 * length, 2))
