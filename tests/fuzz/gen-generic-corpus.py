#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Write the seed corpus of QEMU's generic-fuzz target on virtio-msg-amp-pci
# (tests/fuzz/corpus/generic-fuzz-virtio-msg-amp-pci)
#
# Copyright (c) 2026 The virtio-msg QEMU fork authors
#
# Usage: gen-generic-corpus.py [OUTPUT_DIR]
#        (default: corpus/generic-fuzz-virtio-msg-amp-pci next to this)
#
# A generic-fuzz input (tests/qtest/fuzz/generic_fuzz.c) is a list of
# operations separated by the bytes "FUZZ".  The first byte of an operation
# is its opcode (modulo 10), the rest a C structure copied out of the input
# (with the compiler's padding):
#
#   OP_READ   u8 size (0..3: 1, 2, 4, 8 bytes), u8 region, 2 pad, u32 offset
#   OP_WRITE  the same, 4 pad, u64 value
#   OP_PCI_READ   u8 size (0..2), u8 device, u8 config offset
#   OP_PCI_WRITE  the same, 1 pad, u32 value
#   OP_ADD_DMA_PATTERN  u8 index, u8 stride, pattern bytes
#   OP_CLEAR_DMA_PATTERNS, OP_DISABLE_PCI, OP_CLOCK_STEP  nothing
#
# "region" indexes the fuzzed memory regions in address order, modulo their
# number.  With the config of patches/0004 and the BARs as generic-fuzz maps
# them on -M virt (from 0x10000000), they are:
#
#   0  BAR0 registers (virtio-msg-amp-regs): doorbell of FIFO 0 at 0x20
#   1  BAR1 FIFO window 0 (virtio-msg-amp-fifos, RAM)
#   2  MSI-X table, 3  MSI-X PBA
#
# Before the first operation generic-fuzz maps the BARs and sets I/O, memory
# and bus master enable; after the last one it resets the machine.  When
# the device reads guest memory (rings, buffers) that no earlier read of the
# same operation filled, the memory is filled with the next DMA pattern
# (round robin), starting at the address read: so a pattern's first bytes
# are what each ring or descriptor read sees.
#
# The devices behind FIFO 0, by dev_num: 0 virtio-blk, 1 virtio-net,
# 2 virtio-rng (in -device order).

import os
import struct
import sys

SEPARATOR = b'FUZZ'
(OP_IN, OP_OUT, OP_READ, OP_WRITE, OP_PCI_READ, OP_PCI_WRITE, OP_DISABLE_PCI,
 OP_ADD_DMA_PATTERN, OP_CLEAR_DMA_PATTERNS, OP_CLOCK_STEP) = range(10)
B, W, L, Q = range(4)

REGS, FIFOS = 0, 1
DOORBELL0 = 0x20
TO_DEVICE, TO_DRIVER = 0x1000, 0x2000      # queues of FIFO window 0
HEAD, TAIL, SLOTS = 0, 64, 128
SLOT_SIZE = 64
CAPACITY = (4096 - 128) // SLOT_SIZE         # 62

BLK, NET, RNG = 0, 1, 2

# virtio-msg
RESP, BUS = 1, 2
DEVICE_INFO, GET_FEATURES, SET_FEATURES, GET_CONFIG, SET_CONFIG = range(2, 7)
GET_DEVICE_STATUS, SET_DEVICE_STATUS, GET_VQUEUE, SET_VQUEUE = range(7, 11)
RESET_VQUEUE, GET_SHM = 0x0b, 0x0c
EVENT_AVAIL = 0x41
BUS_GET_DEVICES, BUS_PING = 0x02, 0x03

ACK, DRIVER, DRIVER_OK, FEATURES_OK = 1, 2, 4, 8

# guest RAM on -M virt starts at 1 GiB
RAM = 0x40000000


def op(code, payload=b''):
    return bytes([code]) + payload


def write(region, offset, value, size=L):
    return op(OP_WRITE, struct.pack('<BBxxIQ', size, region, offset, value))


def read(region, offset, size=L):
    return op(OP_READ, struct.pack('<BBxxI', size, region, offset))


def pci_write(offset, value, size=W):
    return op(OP_PCI_WRITE, struct.pack('<BBBxI', size, 0, offset, value))


def pci_read(offset, size=W):
    return op(OP_PCI_READ, struct.pack('<BBB', size, 0, offset))


def dma_pattern(data, index=0, stride=0):
    return op(OP_ADD_DMA_PATTERN, bytes([index, stride]) + data)


def clock_step():
    return op(OP_CLOCK_STEP)


def msg(type_, id_, payload=b'', dev=0, token=1):
    """A virtio-msg message: header, then payload"""
    return struct.pack('<BBHHH', type_, id_, dev, token,
                       8 + len(payload)) + payload


def u32(*v):
    return struct.pack('<%dI' % len(v), *v)


class Driver:
    """The driver side of FIFO 0: puts messages into the driver-to-device
    queue of BAR1 with OP_WRITEs, then publishes them and rings."""

    def __init__(self):
        self.ops = []
        self.head = 0           # our driver-to-device head
        self.tail = 0           # our device-to-driver tail

    def put(self, m):
        m = m + bytes(-len(m) % 8)
        base = TO_DEVICE + SLOTS + self.head * SLOT_SIZE
        for i in range(0, len(m), 8):
            self.ops.append(write(FIFOS, base + i,
                                  struct.unpack('<Q', m[i:i + 8])[0], Q))
        self.head = (self.head + 1) % CAPACITY

    def kick(self):
        self.ops.append(write(FIFOS, TO_DEVICE + HEAD, self.head))
        self.ops.append(write(REGS, DOORBELL0, 0))

    def send(self, *msgs):
        for m in msgs:
            self.put(m)
        self.kick()

    def consume(self, n):
        """Read the device's head, then take n replies off its queue"""
        self.ops.append(read(FIFOS, TO_DRIVER + HEAD))
        self.ops.append(read(FIFOS, TO_DRIVER + SLOTS +
                             self.tail * SLOT_SIZE, Q))
        self.tail = (self.tail + n) % CAPACITY
        self.ops.append(write(FIFOS, TO_DRIVER + TAIL, self.tail))

    def bring_up(self, dev, queues, features_hi=1):
        """Negotiate VIRTIO_F_VERSION_1 only, set up queues (index, size,
        desc, driver, device), DRIVER_OK"""
        self.send(msg(0, DEVICE_INFO, dev=dev),
                  msg(0, GET_FEATURES, u32(0, 2), dev=dev),
                  msg(0, SET_DEVICE_STATUS, u32(ACK | DRIVER), dev=dev),
                  msg(0, SET_FEATURES, u32(0, 2, 0, features_hi), dev=dev),
                  msg(0, SET_DEVICE_STATUS,
                      u32(ACK | DRIVER | FEATURES_OK), dev=dev),
                  msg(0, GET_DEVICE_STATUS, dev=dev))
        self.consume(6)
        for (index, size, desc, driver, device) in queues:
            self.send(msg(0, GET_VQUEUE, u32(index), dev=dev),
                      msg(0, SET_VQUEUE, u32(index, 0, size, 0) +
                          struct.pack('<QQQ', desc, driver, device),
                          dev=dev))
        self.consume(2 * len(queues))
        self.send(msg(0, SET_DEVICE_STATUS,
                      u32(ACK | DRIVER | FEATURES_OK | DRIVER_OK), dev=dev))
        self.consume(1)

    def notify(self, dev, index):
        self.send(msg(0, EVENT_AVAIL, u32(index), dev=dev, token=0))

    def input(self):
        for o in self.ops:
            assert SEPARATOR not in o, o
        return SEPARATOR.join(self.ops)


def ring(n):
    """desc, driver (avail) and device (used) areas of queue n"""
    base = RAM + 0x100000 + n * 0x10000
    return base, base + 0x4000, base + 0x8000


def pattern_desc(addr, length, flags, avail_idx_and_head=2):
    """One pattern for every ring read: the avail index and ring entries
    read avail_idx_and_head (the pattern's first two bytes), the descriptor
    read (index avail_idx_and_head) the whole pattern"""
    assert addr & 0xffff == avail_idx_and_head
    return struct.pack('<QIHH', addr, length, flags, 0)


VRING_DESC_F_WRITE = 2


def seeds():
    out = {}

    d = Driver()
    d.ops.append(pci_read(0x00))            # vendor id
    d.ops.append(pci_write(0x04, 0x0007))   # I/O, memory, bus master
    d.ops.append(read(REGS, 0x00))          # VERSION
    d.ops.append(read(REGS, 0x04))          # FEATURES
    d.send(msg(BUS, BUS_GET_DEVICES, struct.pack('<HH', 0, 32)),
           msg(BUS, BUS_PING, u32(0x12345678)))
    d.consume(2)
    out['get-devices-ping'] = d.input()

    d = Driver()
    for dev in (BLK, NET, RNG):
        d.send(msg(0, DEVICE_INFO, dev=dev),
               msg(0, GET_FEATURES, u32(0, 2), dev=dev),
               msg(0, GET_CONFIG, u32(0, 8), dev=dev),
               msg(0, GET_SHM, u32(0), dev=dev))
    d.consume(12)
    out['device-info'] = d.input()

    # virtio-rng: one queue of 8, one device-writable buffer per entry
    d = Driver()
    desc, avail, used = ring(0)
    d.bring_up(RNG, [(0, 8, desc, avail, used)])
    d.ops.append(dma_pattern(pattern_desc(RAM + 0x2, 16,
                                          VRING_DESC_F_WRITE)))
    d.notify(RNG, 0)
    d.ops.append(clock_step())
    d.consume(1)
    out['rng-bring-up-request'] = d.input()

    # virtio-blk: queue 0; the patterns alternate between the ring reads
    d = Driver()
    desc, avail, used = ring(0)
    d.bring_up(BLK, [(0, 16, desc, avail, used)])
    d.ops.append(dma_pattern(struct.pack('<QIHH', RAM + 0x1, 16, 1, 3)))
    d.ops.append(dma_pattern(struct.pack('<QIHH', RAM + 0x1, 1,
                                         VRING_DESC_F_WRITE, 0)))
    d.notify(BLK, 0)
    d.ops.append(clock_step())
    d.consume(1)
    out['blk-bring-up-request'] = d.input()

    # virtio-net: rx and tx queues, a transmit
    d = Driver()
    rx, tx = ring(0), ring(1)
    d.bring_up(NET, [(0, 16) + rx, (1, 16) + tx])
    d.ops.append(dma_pattern(pattern_desc(RAM + 0x2, 64, 0)))
    d.notify(NET, 1)
    d.consume(1)
    out['net-bring-up-transmit'] = d.input()

    # Legacy SET_VQUEUE, config write, queue reset, device reset
    d = Driver()
    desc, avail, used = ring(2)
    d.send(msg(0, SET_DEVICE_STATUS, u32(ACK | DRIVER), dev=BLK),
           msg(0, SET_VQUEUE, u32(0, 0, 8) +
               struct.pack('<QQQ', desc, avail, used), dev=BLK),
           msg(0, GET_VQUEUE, u32(0), dev=BLK),
           msg(0, SET_CONFIG, u32(0, 0, 4) + b'abcd', dev=NET),
           msg(0, RESET_VQUEUE, u32(0), dev=BLK),
           msg(0, SET_DEVICE_STATUS, u32(0), dev=BLK))
    d.consume(6)
    out['legacy-vqueue-reset'] = d.input()

    # More requests than the device-to-driver queue holds: the backlog,
    # then the retry timer once the driver consumes
    d = Driver()
    for i in range(CAPACITY + 8):
        d.put(msg(BUS, BUS_PING, u32(i)))
        if i % 20 == 19:
            d.kick()
    d.kick()
    d.ops.append(clock_step())
    d.consume(CAPACITY - 1)
    d.ops.append(write(REGS, DOORBELL0, 0))
    d.ops.append(clock_step())
    out['backlog-flood'] = d.input()

    return out


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus',
                     'generic-fuzz-virtio-msg-amp-pci')
    os.makedirs(top, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(top, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
