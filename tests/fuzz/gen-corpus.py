#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Write the seed corpora of the virtio-msg fuzz targets (tests/fuzz/corpus)
#
# Copyright (c) 2026 The virtio-msg QEMU fork authors
#
# Usage: gen-corpus.py [OUTPUT_DIR]   (default: the corpus/ next to this)
#
# The seeds are small valid inputs, one file each; the input formats are
# described at the top of each fuzz-virtio-msg-*.c.

import os
import struct
import sys

RESP, BUS = 1, 2


def msg(type_, id_, payload=b'', dev=0, token=0):
    """A virtio-msg message: header, then payload"""
    return struct.pack('<BBHHH', type_, id_, dev, token,
                       8 + len(payload)) + payload


def u32(*v):
    return struct.pack('<%dI' % len(v), *v)


def codec_seeds():
    bus64 = bytes([64 - 16])        # byte 0 picks the bus maximum
    bus256 = bytes([256 - 16])
    return {
        'device-info-req': bus64 + msg(0, 0x02, dev=1, token=7),
        'device-info-resp': bus64 + msg(RESP, 0x02, u32(1, 0, 64, 8, 2) +
                                        struct.pack('<HH', 0, 0), dev=1),
        'get-features-resp': bus64 + msg(RESP, 0x03, u32(0, 2, 0x1000, 1)),
        'set-features-req': bus256 + msg(0, 0x04, u32(0, 2, 0xff, 0)),
        'get-config-resp': bus64 + msg(RESP, 0x05, u32(3, 0, 4) + b'abcd'),
        'set-config-req': bus64 + msg(0, 0x06, u32(3, 4, 2) + b'xy'),
        'set-config-resp-nodata': bus64 + msg(RESP, 0x06, u32(4, 4, 2)),
        'set-status-req': bus64 + msg(0, 0x08, u32(0xf), dev=2),
        'get-vqueue-resp': bus64 + msg(RESP, 0x09, u32(0, 256, 128, 0) +
                                       struct.pack('<QQQ', 0x1000, 0x2000,
                                                   0x3000)),
        'set-vqueue-req': bus64 + msg(0, 0x0a, u32(1, 0, 64, 0) +
                                      struct.pack('<QQQ', 1, 2, 3)),
        'set-vqueue-legacy': bus64 + msg(0, 0x0a, u32(1, 0, 64) +
                                         struct.pack('<QQQ', 1, 2, 3)),
        'get-shm-resp': bus64 + msg(RESP, 0x0c, u32(0, 4096, 0x8000)),
        'event-config': bus64 + msg(0, 0x40, u32(0xf, 5, 0, 2) + b'\1\2'),
        'event-avail-short': bus64 + msg(0, 0x41, u32(3)),
        'event-avail': bus64 + msg(0, 0x41, u32(3, 0x80000010)),
        'event-used': bus64 + msg(0, 0x42, u32(1), dev=3),
        'bus-get-devices-resp': bus64 + msg(BUS | RESP, 0x02,
                                            struct.pack('<HHH', 0, 32, 0) +
                                            b'\x07\0\0\0'),
        'bus-ping': bus64 + msg(BUS, 0x03, u32(0x12345678)),
        'bus-event-device': bus64 + msg(BUS, 0x40, struct.pack('<HH', 1, 1)),
    }


# SPSC operations
SEND, RECV, PEER_HEAD, PEER_TAIL, PEER_WRITE, QUERY, RESET, FILL = range(8)


def spsc_window(slots, head=0, tail=0):
    # the size selector is added to SPSC_MIN_WINDOW (two slots)
    return struct.pack('<HII', (slots - 2) * 64, head, tail)


def send(length, data=b''):
    return bytes([SEND, length, len(data)]) + data


def spsc_seeds():
    return {
        'send-recv': spsc_window(4) + send(16, b'hello') +
                     bytes([QUERY, RECV, QUERY]),
        'fill-2-slots': spsc_window(2) + bytes([FILL, 5]) + send(64) * 3 +
                        bytes([RECV, RECV]),
        'fill-wrap': spsc_window(62) + bytes([FILL, 100]) +
                     send(8, b'abcdefgh') * 10,
        'hostile-head': spsc_window(8) + send(4, b'ab') +
                        bytes([PEER_HEAD]) + u32(0xffffffff) +
                        bytes([QUERY, RECV, RECV, RESET, QUERY]),
        'hostile-tail': spsc_window(8, 3, 1) + bytes([PEER_TAIL]) +
                        u32(0x80000000) + send(64, b'z' * 60) +
                        bytes([RECV]),
        'peer-slot-write': spsc_window(4) + send(8, b'12345678') +
                           bytes([PEER_WRITE]) + struct.pack('<H', 128) +
                           bytes([4]) + b'EVIL' + bytes([RECV]),
        'odd-window': struct.pack('<HII', 100, 0, 0) + send(65) +
                      send(1, b'x') + bytes([RECV]),
    }


# Backlog operations and message kinds
ADD, ADD2, ADD3, BURST, FLUSH, BRECV, PURGE, BRESET = range(8)
USED, CONFIG, AVAIL, RESPONSE, REQUEST, EVENT_DEVICE, PING = range(7)


def backlog_start(cap, head=0, model_head=0):
    # queue capacity 2 + byte, backlog head, model head
    return bytes([cap - 2]) + struct.pack('<HH', head, model_head)


def add(kind, dev, arg):
    return bytes([ADD, kind, dev, arg])


def backlog_seeds():
    return {
        'coalesce-used': backlog_start(2) + add(USED, 1, 0) +
                         add(RESPONSE, 1, 2) + add(USED, 1, 0) +
                         add(USED, 1, 0) + bytes([FLUSH, BRECV, 0]),
        'config-replaces': backlog_start(4) + add(CONFIG, 0, 1) +
                           add(USED, 0, 1) + add(CONFIG, 0, 2) +
                           bytes([FLUSH, BRECV, 3]),
        'barrier-reset': backlog_start(3) + add(USED, 2, 1) +
                         add(RESPONSE, 2, 0) + add(USED, 2, 1) +
                         add(EVENT_DEVICE, 2, 1) + add(CONFIG, 2, 0) +
                         bytes([FLUSH]),
        'avail-driver-side': backlog_start(2) + add(AVAIL, 0, 1) +
                             add(AVAIL, 0, 5) + add(REQUEST, 0, 0) +
                             add(AVAIL, 0, 1) + bytes([FLUSH, BRECV, 1]),
        'purge': backlog_start(2) + add(USED, 1, 0) + add(PING, 0, 1) +
                 add(RESPONSE, 1, 3) + add(USED, 2, 0) +
                 bytes([PURGE, 1, FLUSH, BRECV, 0]),
        'full': backlog_start(2, 500, 7) + bytes([BURST, 200, RESPONSE, 1,
                                                  2]) +
                add(USED, 0, 0) + bytes([FLUSH, BRECV, 0, BRESET]),
    }


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
    for target, seeds in (('codec', codec_seeds()), ('spsc', spsc_seeds()),
                          ('backlog', backlog_seeds())):
        d = os.path.join(top, target)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), 'wb') as f:
                f.write(data)


if __name__ == '__main__':
    main()
