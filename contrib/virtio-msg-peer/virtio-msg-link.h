/*
 * virtio-msg-link: the link of QEMU's virtio-msg-bus-linux-user, outside QEMU
 *
 * A tiny library for programs that talk to a QEMU virtio-msg-bus-linux-user
 * device: connect to (or listen on) its Unix socket, perform (or accept)
 * the setup that hands over the shared memfd, and move 64-byte virtio-msg
 * messages through the two single-producer single-consumer queues in it,
 * with one-byte doorbells on the socket.  The protocol is described in
 * docs/interop/virtio-msg-linux-user.rst.  Only libc, POSIX and Linux
 * headers are used.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VIRTIO_MSG_LINK_H
#define VIRTIO_MSG_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The setup message: magic, version, queue size (little-endian) */
#define VMSG_LINK_MAGIC         "VMSGLU"
#define VMSG_LINK_VERSION       1
#define VMSG_LINK_SETUP_SIZE    16
#define VMSG_LINK_QUEUE_SIZE    65536
#define VMSG_LINK_SHM_SIZE      (2 * VMSG_LINK_QUEUE_SIZE)
#define VMSG_LINK_DOORBELL      'D'

/* One queue: head, tail, then 64-byte slots */
#define VMSG_LINK_HEAD_OFF      0
#define VMSG_LINK_TAIL_OFF      64
#define VMSG_LINK_SLOTS_OFF     128
#define VMSG_LINK_MSG_SIZE      64
#define VMSG_LINK_SLOTS \
    ((VMSG_LINK_QUEUE_SIZE - VMSG_LINK_SLOTS_OFF) / VMSG_LINK_MSG_SIZE)

struct vmsg_link {
    int listen_fd;      /* listening socket, or -1 */
    int sock;           /* the connection, or -1 */
    int memfd;          /* the shared queues, or -1 */
    uint8_t *shm;       /* their mapping (VMSG_LINK_SHM_SIZE bytes) */
    uint8_t *tx;        /* the queue we produce into */
    uint8_t *rx;        /* the queue the other side produces into */
    char error[160];    /* why the last call failed */
};

/* Initialise @l: nothing open. */
void vmsg_link_init(struct vmsg_link *l);

/*
 * Listening side.  vmsg_link_listen() creates the socket at @path (an
 * existing socket file there is replaced); vmsg_link_accept() waits for a
 * connection, creates fresh queues and sends the setup.  Both return 0, or
 * -1 with l->error set.
 */
int vmsg_link_listen(struct vmsg_link *l, const char *path);
int vmsg_link_accept(struct vmsg_link *l);

/*
 * Connecting side: connect to @path, trying again for up to @retry_ms
 * while nobody listens there yet, then receive, check and map the setup.
 * Returns 0, or -1 with l->error set.
 */
int vmsg_link_connect(struct vmsg_link *l, const char *path, int retry_ms);

/* Close the connection and unmap the queues (the listening socket stays). */
void vmsg_link_disconnect(struct vmsg_link *l);

/* Close everything. */
void vmsg_link_close(struct vmsg_link *l);

/*
 * Put one message of @len bytes (at most VMSG_LINK_MSG_SIZE) in the
 * transmit queue; false if the queue is full.  Ring the doorbell after a
 * batch of messages.
 */
bool vmsg_link_send(struct vmsg_link *l, const void *msg, size_t len);
void vmsg_link_doorbell(struct vmsg_link *l);

/* Take the oldest received message (64 bytes); false if there is none. */
bool vmsg_link_recv(struct vmsg_link *l, uint8_t *msg);

/* Free slots in the transmit queue. */
unsigned vmsg_link_tx_free(struct vmsg_link *l);

/*
 * Sleep until a doorbell arrives or @timeout_ms pass (-1: no limit).
 * Returns 1 after doorbells (all waiting bytes are consumed), 0 on
 * timeout, -1 when the connection is gone or the other side broke the
 * protocol (l->error says which).
 */
int vmsg_link_wait(struct vmsg_link *l, int timeout_ms);

#endif
