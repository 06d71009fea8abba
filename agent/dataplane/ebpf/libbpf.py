"""A small ctypes binding of libbpf 1.x: load an object with pinned maps, and map operations.

`BpfObject` opens a compiled object, sets each map's max_entries and pin path *before* load (so
libbpf reuses a map already pinned there: the restart and upgrade path, and the reason traffic
survives the agent), loads it, and hands out program fds and `Map`s. `Map` does single and
batched update/delete/lookup on raw bytes (layouts in layout.py). libbpf 1.x returns -errno and
also sets errno; both are turned into `BpfError` (an OSError with that errno).
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import os
from collections.abc import Iterator
from ctypes import POINTER, c_char_p, c_int, c_uint32, c_uint64, c_void_p

BPF_ANY = 0
BPF_NOEXIST = 1
BPF_EXIST = 2
# the kernel's internal "operation not supported" (a map type without a batch op returns it);
# Python's errno module has no name for it
ENOTSUPP = 524


class BpfError(OSError):
    pass


class _BatchOpts(ctypes.Structure):
    # struct bpf_map_batch_opts { size_t sz; __u64 elem_flags; __u64 flags; }
    _fields_ = [("sz", ctypes.c_size_t), ("elem_flags", c_uint64), ("flags", c_uint64)]


_lib: ctypes.CDLL | None = None


def lib() -> ctypes.CDLL:
    """libbpf.so.1 with the signatures used here declared (loaded once)."""
    global _lib
    if _lib is not None:
        return _lib
    so = ctypes.CDLL("libbpf.so.1", use_errno=True)
    sigs = {
        "bpf_object__open_file": (c_void_p, [c_char_p, c_void_p]),
        "bpf_object__load": (c_int, [c_void_p]),
        "bpf_object__close": (None, [c_void_p]),
        "bpf_object__find_program_by_name": (c_void_p, [c_void_p, c_char_p]),
        "bpf_object__find_map_by_name": (c_void_p, [c_void_p, c_char_p]),
        "bpf_object__next_map": (c_void_p, [c_void_p, c_void_p]),
        "bpf_program__fd": (c_int, [c_void_p]),
        "bpf_map__fd": (c_int, [c_void_p]),
        "bpf_map__name": (c_char_p, [c_void_p]),
        "bpf_map__key_size": (c_uint32, [c_void_p]),
        "bpf_map__value_size": (c_uint32, [c_void_p]),
        "bpf_map__max_entries": (c_uint32, [c_void_p]),
        "bpf_map__set_max_entries": (c_int, [c_void_p, c_uint32]),
        "bpf_map__set_pin_path": (c_int, [c_void_p, c_char_p]),
        "bpf_map_update_elem": (c_int, [c_int, c_void_p, c_void_p, c_uint64]),
        "bpf_map_lookup_elem": (c_int, [c_int, c_void_p, c_void_p]),
        "bpf_map_delete_elem": (c_int, [c_int, c_void_p]),
        "bpf_map_get_next_key": (c_int, [c_int, c_void_p, c_void_p]),
        "bpf_map_update_batch": (c_int, [c_int, c_void_p, c_void_p, POINTER(c_uint32), POINTER(_BatchOpts)]),
        "bpf_map_delete_batch": (c_int, [c_int, c_void_p, POINTER(c_uint32), POINTER(_BatchOpts)]),
        "bpf_map_lookup_batch": (
            c_int,
            [c_int, c_void_p, c_void_p, c_void_p, c_void_p, POINTER(c_uint32), POINTER(_BatchOpts)],
        ),
        "bpf_obj_get": (c_int, [c_char_p]),
        "libbpf_num_possible_cpus": (c_int, []),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(so, name)
        fn.restype = restype
        fn.argtypes = argtypes
    _lib = so
    return so


def _check(rc: int, what: str) -> int:
    if rc < 0:
        err = -rc if rc != -1 else (ctypes.get_errno() or errno_mod.EIO)
        raise BpfError(err, f"{what}: {os.strerror(err)}")
    return rc


def num_possible_cpus() -> int:
    """The per-CPU slot count of PERCPU maps (possible CPUs, which can exceed online ones)."""
    return _check(lib().libbpf_num_possible_cpus(), "libbpf_num_possible_cpus")


def obj_get(path: str) -> int:
    """An fd for a pinned object (another process's map, for example)."""
    return _check(lib().bpf_obj_get(path.encode()), f"bpf_obj_get {path}")


class Map:
    """A BPF map by fd, with raw-bytes keys and values of fixed sizes."""

    def __init__(
        self, name: str, fd: int, key_size: int, value_size: int, *, percpu: int = 0, owns_fd: bool = False
    ) -> None:
        self.name = name
        self.fd = fd
        self.key_size = key_size
        self.value_size = value_size
        # PERCPU values come back as one slot per possible CPU, each rounded up to 8 bytes
        self.read_size = percpu * ((value_size + 7) // 8 * 8) if percpu else value_size
        self._owns_fd = owns_fd
        self._lib = lib()

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY) -> None:
        _check(self._lib.bpf_map_update_elem(self.fd, key, value, flags), f"update {self.name}")

    def lookup(self, key: bytes) -> bytes | None:
        buf = ctypes.create_string_buffer(self.read_size)
        rc = self._lib.bpf_map_lookup_elem(self.fd, key, buf)
        if rc == -errno_mod.ENOENT:
            return None
        _check(rc, f"lookup {self.name}")
        return buf.raw

    def delete(self, key: bytes) -> bool:
        """False when the key was not there."""
        rc = self._lib.bpf_map_delete_elem(self.fd, key)
        if rc == -errno_mod.ENOENT:
            return False
        _check(rc, f"delete {self.name}")
        return True

    def update_batch(self, keys: bytes, values: bytes, count: int, flags: int = BPF_ANY) -> tuple[int, int]:
        """Update `count` packed entries in one call; returns (entries done, errno of the first
        failing entry or 0). The kernel stops at the first failure, which is entry `done`."""
        n = c_uint32(count)
        opts = _BatchOpts(ctypes.sizeof(_BatchOpts), flags, 0)
        rc = self._lib.bpf_map_update_batch(self.fd, keys, values, ctypes.byref(n), ctypes.byref(opts))
        if rc < 0:
            return n.value, -rc
        return n.value, 0

    def delete_batch(self, keys: bytes, count: int) -> tuple[int, int]:
        """As update_batch; the kernel stops at the first key that is missing (ENOENT) too."""
        n = c_uint32(count)
        opts = _BatchOpts(ctypes.sizeof(_BatchOpts), 0, 0)
        rc = self._lib.bpf_map_delete_batch(self.fd, keys, ctypes.byref(n), ctypes.byref(opts))
        if rc < 0:
            return n.value, -rc
        return n.value, 0

    def keys(self) -> Iterator[bytes]:
        """Every key, by get_next_key (works for every map type, LPM tries included)."""
        prev = None
        nxt = ctypes.create_string_buffer(self.key_size)
        while True:
            rc = self._lib.bpf_map_get_next_key(self.fd, prev, nxt)
            if rc == -errno_mod.ENOENT:
                return
            _check(rc, f"get_next_key {self.name}")
            key = nxt.raw
            yield key
            prev = key

    def items(self, chunk: int = 8192) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value): batched lookups where the map type has them, else key by key."""
        ks, vs = self.key_size, self.read_size
        for keys, values, n in self.chunks(chunk):
            for i in range(n):
                yield keys[i * ks : (i + 1) * ks], values[i * vs : (i + 1) * vs]

    def chunks(self, chunk: int = 8192) -> Iterator[tuple[bytes, bytes, int]]:
        """Every entry, as (keys, values, n): n packed keys and values end to end, from batched
        lookups where the map type has them, else one entry at a time."""
        try:
            yield from self._chunks_batched(chunk)
        except BpfError as e:
            if e.errno not in (errno_mod.EINVAL, ENOTSUPP, errno_mod.EOPNOTSUPP):
                raise
            for key in list(self.keys()):
                value = self.lookup(key)
                if value is not None:
                    yield key, value, 1

    def _chunks_batched(self, chunk: int) -> Iterator[tuple[bytes, bytes, int]]:
        # the batch cursor is opaque (a bucket index for hashes); a key-sized buffer holds it
        cursor_in = ctypes.create_string_buffer(max(self.key_size, 8))
        cursor_out = ctypes.create_string_buffer(max(self.key_size, 8))
        opts = _BatchOpts(ctypes.sizeof(_BatchOpts), 0, 0)
        first = True
        while True:
            keys = ctypes.create_string_buffer(self.key_size * chunk)
            values = ctypes.create_string_buffer(self.read_size * chunk)
            n = c_uint32(chunk)
            rc = self._lib.bpf_map_lookup_batch(
                self.fd,
                None if first else cursor_in,
                cursor_out,
                keys,
                values,
                ctypes.byref(n),
                ctypes.byref(opts),
            )
            if rc < 0 and -rc == errno_mod.ENOSPC and n.value == 0:
                chunk *= 4  # one hash bucket holds more entries than the chunk
                continue
            done = rc < 0 and -rc == errno_mod.ENOENT
            if rc < 0 and not done:
                _check(rc, f"lookup_batch {self.name}")
            if n.value:
                yield keys.raw[: n.value * self.key_size], values.raw[: n.value * self.read_size], n.value
            if done:
                return
            ctypes.memmove(cursor_in, cursor_out, len(cursor_out))
            first = False

    def close(self) -> None:
        if self._owns_fd and self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class BpfObject:
    """A compiled BPF object file: configure maps, load, then get program fds and maps."""

    def __init__(self, path: str) -> None:
        self._lib = lib()
        ctypes.set_errno(0)
        ptr = self._lib.bpf_object__open_file(path.encode(), None)
        if not ptr:
            err = ctypes.get_errno() or errno_mod.EINVAL
            raise BpfError(err, f"open {path}: {os.strerror(err)}")
        self._obj: int | None = ptr
        self.loaded = False

    def _map_ptr(self, name: str) -> int:
        ptr = self._lib.bpf_object__find_map_by_name(self._obj, name.encode())
        if not ptr:
            raise KeyError(f"no map {name!r} in the BPF object")
        return ptr

    def map_names(self) -> list[str]:
        names = []
        ptr = self._lib.bpf_object__next_map(self._obj, None)
        while ptr:
            names.append(self._lib.bpf_map__name(ptr).decode())
            ptr = self._lib.bpf_object__next_map(self._obj, ptr)
        return names

    def sizes(self) -> dict[str, tuple[int, int]]:
        """(key size, value size) of every map, as compiled."""
        out = {}
        for name in self.map_names():
            ptr = self._map_ptr(name)
            out[name] = (self._lib.bpf_map__key_size(ptr), self._lib.bpf_map__value_size(ptr))
        return out

    def set_max_entries(self, name: str, n: int) -> None:
        _check(self._lib.bpf_map__set_max_entries(self._map_ptr(name), n), f"set_max_entries {name}")

    def set_pin_path(self, name: str, path: str) -> None:
        """Pin the map at `path` on load, or reuse the map pinned there (it must be compatible)."""
        _check(self._lib.bpf_map__set_pin_path(self._map_ptr(name), path.encode()), f"set_pin_path {name}")

    def load(self) -> None:
        _check(self._lib.bpf_object__load(self._obj), "bpf_object__load (libbpf printed the details)")
        self.loaded = True

    def program_fd(self, name: str) -> int:
        prog = self._lib.bpf_object__find_program_by_name(self._obj, name.encode())
        if not prog:
            raise KeyError(f"no program {name!r} in the BPF object")
        return _check(self._lib.bpf_program__fd(prog), f"program fd {name}")

    def map(self, name: str, *, percpu: int = 0) -> Map:
        ptr = self._map_ptr(name)
        fd = _check(self._lib.bpf_map__fd(ptr), f"map fd {name}")
        return Map(
            name, fd, self._lib.bpf_map__key_size(ptr), self._lib.bpf_map__value_size(ptr), percpu=percpu
        )

    def close(self) -> None:
        """Close the object's fds; attached programs and pinned maps live on in the kernel."""
        if self._obj:
            self._lib.bpf_object__close(self._obj)
            self._obj = None
