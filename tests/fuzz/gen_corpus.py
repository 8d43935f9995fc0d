#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of the libFuzzer targets: corpus/<target>/<name>.

    tests/fuzz/gen_corpus.py        (re)writes every seed; deterministic

Seeds are small hand-made inputs that reach the interesting paths at once;
the fuzzers grow their own corpora from them (docs/fuzzing.md).  Crash
reproducers found later are added by hand as corpus/<target>/regress-*.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- fuzz_host_ring: geometry byte, qp byte, then ops (see the target) ----
def op_tail(v):
    return bytes([0]) + struct.pack(">I", v & 0xFFFFFFFF)


def op_cqhead(v):
    return bytes([1]) + struct.pack(">I", v & 0xFFFFFFFF)


def op_notify(flags, ev):
    return bytes([2, flags]) + struct.pack(">I", ev)


def op_sqe_raw(slot, sqe):
    return bytes([3, slot]) + sqe


def op_sqe(slot, opc, buf, off, ln, ud):
    return bytes([4, slot, opc, buf, off, ln]) + struct.pack(">H", ud)


def op_take(n):
    return bytes([6, n])


def op_post(n):
    return bytes([8, n])


PUBLISH, ARM, CLEAR = bytes([9]), bytes([10]), bytes([11])


def sqe(opc, flags=0, target=0, off=0, buf=0, boff=0, ln=0, ud=0):
    return struct.pack("<BBHIQIIIIQ24x", opc, flags, 0, target, off, buf,
                       boff, ln, 0, ud)


def host_ring():
    t = "fuzz_host_ring"
    put(t, "one-read", bytes([0, 0]) + op_sqe(0, 1, 0, 0, 64, 1) +
        op_tail(1) + op_take(8) + op_post(1) + PUBLISH)
    put(t, "batch-notify", bytes([5, 0]) + op_notify(1, 0) +
        b"".join(op_sqe(i, i % 6, i % 3, 0, 16, i) for i in range(4)) +
        op_tail(4) + ARM + CLEAR + op_take(4) + op_post(4) + PUBLISH)
    put(t, "invalid-sqes", bytes([1, 0]) +
        op_sqe_raw(0, sqe(9, ud=7)) + op_sqe_raw(1, sqe(1, flags=1, ln=8)) +
        op_sqe_raw(2, sqe(1, buf=3, ln=8)) +
        op_sqe_raw(3, sqe(1, off=(1 << 63) - 4, ln=8)) +
        op_tail(4) + op_take(4) + PUBLISH)
    put(t, "broken-tail", bytes([2, 0]) + op_tail(0xFFFFFFFF) + op_take(1) +
        op_take(1))
    put(t, "cq-full", bytes([0, 0]) +
        b"".join(op_sqe(i % 2, 0, 0, 0, 0, i) for i in range(2)) +
        op_tail(2) + op_take(1) + op_cqhead(0x80000000) + op_take(1) +
        op_post(1) + PUBLISH)
    put(t, "qp1-wrap", bytes([12, 1]) + op_sqe(0, 0, 0, 0, 0, 1) +
        op_tail(1) + op_take(1) + op_post(1) + PUBLISH + op_cqhead(1))


# ---- fuzz_region_attach: mode byte, then template or raw (see the target) --
def patch(off, data):
    return struct.pack("<HB", off, len(data)) + data


def region_attach():
    t = "fuzz_region_attach"
    put(t, "mem-intact", bytes([1, 0, 0]))
    put(t, "fd-intact", bytes([3, 3, 0]))
    put(t, "fd-sealed-required", bytes([1 | 2 | 4 | 8, 5, 0]))
    put(t, "fd-unsealed-required", bytes([1 | 2 | 8, 1, 0]))
    put(t, "mem-short", bytes([1, 2, 0xC0]))
    put(t, "mem-long", bytes([1, 6, 0x40]))
    # nr_qpairs = 0xffff, sq_entries = 3, region_size huge, abi version 9
    put(t, "bad-qpairs", bytes([1, 0, 0]) + patch(28, struct.pack("<I", 0xFFFF)))
    put(t, "bad-sq", bytes([3, 1, 0]) + patch(32, struct.pack("<I", 3)))
    put(t, "bad-size", bytes([1, 7, 0]) + patch(16, struct.pack("<Q", 1 << 62)))
    put(t, "bad-abi", bytes([1, 4, 0]) + patch(8, struct.pack("<I", 9)))
    put(t, "raw-magic", bytes([0, 64, 0]) + struct.pack("<QII", 0x314E4745524F4958, 1, 4096))


if __name__ == "__main__":
    host_ring()
    region_attach()
