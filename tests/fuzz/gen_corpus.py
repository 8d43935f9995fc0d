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


# ---- fuzz_proto: scenario, type/qpairs, max fds, then reply records ------
PROTO_MAGIC, REPLY = 0x50434F58, 0x100


def msg(mtype, body):
    """A reply: header (the fuzzer fixes magic/seq/len with flag 1) + body."""
    return struct.pack("<IHHII", PROTO_MAGIC, 1, mtype, 16 + len(body), 0) + body


def rec(nfds, flags, m):
    return struct.pack("<BBH", nfds, flags, len(m)) + m


def tenant_list_reply(total, count, names):
    body = struct.pack("<iIII", 0, total, count, 0)
    for i, n in enumerate(names):
        w = struct.pack("<II", i + 1, 1) + n.encode().ljust(64, b"\0")
        body += w.ljust(232, b"\0")
    return msg(3 | REPLY, body.ljust(3744 - 16, b"\0"))


def attach_reply(nr_qpairs, nr_fds, status=0):
    return msg(1 | REPLY, struct.pack("<iIQII", status, 1, 16384, nr_qpairs,
                                      nr_fds))


def proto():
    t = "fuzz_proto"
    put(t, "raw-status", bytes([0, 1, 0]) + rec(0, 1, msg(2 | REPLY, struct.pack("<i", 0))))
    put(t, "raw-error", bytes([0, 10, 0]) + rec(0, 1, msg(0x1FF, struct.pack("<i", -22))))
    put(t, "raw-wrong-type", bytes([0, 2, 0]) + rec(0, 1, msg(2 | REPLY, struct.pack("<i", 0))))
    put(t, "raw-extra-fds", bytes([0, 0, 2]) + rec(5, 1, attach_reply(2, 5)))
    put(t, "raw-split-fds", bytes([0, 0, 9]) + rec(7, 1 | 4, attach_reply(3, 7)))
    put(t, "list-one", bytes([1, 0, 10]) + rec(0, 1, tenant_list_reply(1, 1, ["a"])))
    put(t, "list-paged", bytes([1, 0, 40]) +
        rec(0, 1, tenant_list_reply(20, 16, ["t%d" % i for i in range(16)])) +
        rec(0, 1, tenant_list_reply(20, 4, ["u%d" % i for i in range(4)])))
    put(t, "list-bad-count", bytes([1, 0, 40]) + rec(0, 1, tenant_list_reply(17, 17, [])))
    put(t, "attach-ok", bytes([2, 0, 0]) + rec(3, 1 | 2, attach_reply(1, 3)))
    put(t, "attach-split", bytes([2, 1, 0]) + rec(5, 1 | 2 | 4, attach_reply(2, 5)))
    put(t, "attach-few-fds", bytes([2, 0, 0]) + rec(2, 1 | 2, attach_reply(1, 3)))
    put(t, "attach-eventfd-region", bytes([2, 0, 0]) + rec(3, 1, attach_reply(1, 3)))
    put(t, "attach-refused", bytes([2, 0, 0]) + rec(0, 1, attach_reply(0, 0, -17)))


# ---- fuzz_hook_xml: domain XML as libvirt hands it to the hook ----------
def domain(body, name="vm1"):
    return ("<domain type='kvm'>\n  <name>%s</name>\n%s</domain>\n" %
            (name, body)).encode()


SHM = "<shmem name='%s'><model type='%s'/><size unit='%s'>%s</size></shmem>"
META = ('<metadata><xio:xio xmlns:xio="urn:xio:libvirt:1">%s</xio:xio>'
        '</metadata>')
TGT = '<xio:target shmem="%s" path="%s"%s/>'


def hook_xml():
    t = "fuzz_hook_xml"
    put(t, "full", domain(
        "<uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>\n"
        "<cputune><vcpupin vcpu='0' cpuset='0'/><vcpupin vcpu='1' "
        "cpuset='0-1'/></cputune>\n"
        "<numatune><memory mode='strict' nodeset='0'/></numatune>\n" +
        META % (TGT % ("xio-a", "/var/lib/a.img", "") +
                TGT % ("xio-a", "/var/lib/ro.img", " readonly='yes'")) +
        "\n<devices>" + SHM % ("xio-a", "ivshmem-plain", "M", "2") +
        SHM % ("xio-b", "ivshmem-plain", "MiB", "1") +
        SHM % ("other", "ivshmem-plain", "M", "1") + "</devices>\n"))
    put(t, "vcpupin-only", domain(
        "<cputune><vcpupin vcpu='0' cpuset='1'/></cputune><devices>" +
        SHM % ("xio-c", "ivshmem-plain", "G", "1") + "</devices>"))
    put(t, "default-size", domain("<devices><shmem name='xio-d'/></devices>"))
    put(t, "bytes-unit", domain("<devices>" +
                                SHM % ("xio-e", "ivshmem-plain", "bytes",
                                       "1048576") + "</devices>"))
    put(t, "bad-size", domain("<devices>" +
                              SHM % ("xio-f", "ivshmem-plain", "M", "3") +
                              "</devices>"))
    put(t, "bad-model", domain("<devices>" +
                               SHM % ("xio-g", "ivshmem-doorbell", "M", "1") +
                               "</devices>"))
    put(t, "orphan-target", domain(META % (TGT % ("xio-z", "/x", ""))))
    put(t, "relative-target", domain(META % (TGT % ("xio-a", "x", "")) +
                                     "<devices>" + SHM % ("xio-a",
                                     "ivshmem-plain", "M", "1") +
                                     "</devices>"))
    put(t, "no-name", b"<domain><devices/></domain>")
    put(t, "not-domain", b"<?xml version='1.0'?><network><name>n</name></network>")
    put(t, "entities", b"<!DOCTYPE d [<!ENTITY e 'xio-q'>]><domain><name>&e;</name>"
        b"<devices><shmem name='&e;'/></devices></domain>")


# ---- fuzz_steer: IP mode byte (0 MAC only, 1 MAC then IP, 2 IP then MAC),
# then an Ethernet frame; rules: tenant t has MAC 02:00:00:00:00:0(t+1),
# 10.0.0.(t+1) and fd00::(t+1); tenants 0 and 1 are steered.
def eth(t, proto, tags=()):
    f = bytes([2, 0, 0, 0, 0, t + 1]) + bytes([2, 0, 0, 0, 0, 0x99])
    for tp in tags:
        f += struct.pack(">HH", tp, 7)
    return f + struct.pack(">H", proto)


def ip4(dst, ihl=5, ver=4):
    h = bytes([ver << 4 | ihl, 0]) + struct.pack(">H", 20) + bytes(8)
    h += bytes([10, 0, 0, 9]) + bytes(dst)
    return h + bytes(max(0, ihl * 4 - 20))


def ip6(last):
    return bytes([0x60]) + bytes(7) + bytes(16) + bytes([0xFD]) + bytes(14) + bytes([last])


def steer():
    t = "fuzz_steer"
    put(t, "mac-steered", bytes([0]) + eth(0, 0x88B5) + bytes(46))
    put(t, "mac-passed", bytes([0]) + eth(2, 0x0806) + bytes(46))
    put(t, "vlan-mac", bytes([0]) + eth(1, 0x88B5, (0x8100,)) + bytes(46))
    put(t, "vlan-stacked", bytes([0]) + eth(1, 0x0800, (0x88A8, 0x8100)) + bytes(46))
    put(t, "ip4-after-mac", bytes([1]) + eth(9, 0x0800) + ip4([10, 0, 0, 1]))
    put(t, "ip4-bad-ihl", bytes([1]) + eth(9, 0x0800) + ip4([10, 0, 0, 1], ihl=4))
    put(t, "ip4-first", bytes([2]) + eth(3, 0x0800) + ip4([10, 0, 0, 2], ihl=6))
    put(t, "ip6-first", bytes([2]) + eth(9, 0x86DD) + ip6(2))
    put(t, "ip6-short", bytes([2]) + eth(9, 0x86DD) + ip6(2)[:30])
    put(t, "runt", bytes([0]) + eth(0, 0x0800)[:10])


# ---- fuzz_control: admin bit, then request records (see the target) ------
def req(mtype, size, body=b""):
    """A request of the exact size of its type: header + body, zero-padded."""
    return msg(mtype, body.ljust(size - 16, b"\0"))


def name(n):
    return n.encode().ljust(64, b"\0")


def control():
    t = "fuzz_control"
    attach = req(1, 112, name("fz") + struct.pack("<IIIIIiII", 1, 8, 16, 4096, 4, -1, 0, 0))
    persist = req(1, 112, name("vm") + struct.pack("<IIIIIiII", 2, 8, 16, 4096, 4, -1, 2, 0))
    # TARGET_ADD: path[0] picks one of the target's harmless paths (5: a file).
    target = req(4, 1112, name("fz") + b"\x05".ljust(1024, b"\0") + struct.pack("<II", 0, 0))
    target_fd = req(5, 1112, name("fz") + bytes(1024) + struct.pack("<II", 0, 0))
    put(t, "guest-attach-detach", bytes([0]) + rec(0, 1, attach) + rec(0, 1, req(2, 16)))
    put(t, "guest-admin-requests", bytes([0]) + rec(0, 1, attach) + rec(0, 1, req(3, 24))
        + rec(0, 1, target) + rec(0, 1, req(16, 88, name("fz"))))
    put(t, "admin-targets", bytes([1]) + rec(0, 1, attach) + rec(0, 1, target)
        + rec(1, 1, target_fd) + rec(0, 1, req(6, 88, name("fz")))
        + rec(0, 1, req(16, 88)) + rec(0, 1, req(19, 120, name("fz"))))
    put(t, "admin-persist", bytes([1]) + rec(0, 1, persist) + rec(0, 1, req(3, 24))
        + rec(0, 1, req(7, 88, name("vm"))) + rec(0, 1, req(17, 88)))
    put(t, "admin-misc", bytes([1]) + rec(0, 1, req(18, 24)) + rec(0, 1, req(20, 136))
        + rec(0, 1, req(8, 1152, name("vm1"))))
    put(t, "bad-framing", bytes([1]) + rec(2 | 3 << 3, 1, req(3, 24)) + rec(0, 0, b"\0" * 20)
        + rec(0, 1, req(1, 111)) + rec(0, 1, req(0x7777, 24)))
    # A zero-length message with fds: xiod took it for a hang-up and leaked
    # the fds (found by fuzz_control).
    put(t, "regress-zero-length-fds", bytes([1]) + rec(2, 0, b""))


if __name__ == "__main__":
    steer()
    host_ring()
    region_attach()
    proto()
    control()
    hook_xml()
