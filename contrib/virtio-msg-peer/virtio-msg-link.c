/*
 * virtio-msg-link: the link of QEMU's virtio-msg-bus-linux-user, outside QEMU
 *
 * See virtio-msg-link.h and docs/interop/virtio-msg-linux-user.rst.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* memfd_create, accept4 */
#endif
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "virtio-msg-link.h"

/* Seals the listening side puts on the memfd; the receiver needs SHRINK */
#define LINK_SEALS  (F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)

static int __attribute__((format(printf, 2, 3)))
fail(struct vmsg_link *l, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(l->error, sizeof(l->error), fmt, ap);
    va_end(ap);
    return -1;
}

void vmsg_link_init(struct vmsg_link *l)
{
    memset(l, 0, sizeof(*l));
    l->listen_fd = -1;
    l->sock = -1;
    l->memfd = -1;
}

static int unix_address(struct vmsg_link *l, const char *path,
                        struct sockaddr_un *sun)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun->sun_path)) {
        return fail(l, "socket path too long: %s", path);
    }
    strcpy(sun->sun_path, path);
    return 0;
}

/* Attach the two queues: the listening side transmits on the first one */
static void attach_queues(struct vmsg_link *l, bool listening)
{
    uint8_t *first = l->shm, *second = l->shm + VMSG_LINK_QUEUE_SIZE;

    l->tx = listening ? first : second;
    l->rx = listening ? second : first;
}

int vmsg_link_listen(struct vmsg_link *l, const char *path)
{
    struct sockaddr_un sun;
    struct stat st;

    if (unix_address(l, path, &sun) < 0) {
        return -1;
    }
    /* replace a stale socket, but never any other kind of file */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        unlink(path);
    }
    l->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l->listen_fd < 0) {
        return fail(l, "socket: %s", strerror(errno));
    }
    if (bind(l->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
        listen(l->listen_fd, 1) < 0) {
        fail(l, "cannot listen on %s: %s", path, strerror(errno));
        close(l->listen_fd);
        l->listen_fd = -1;
        return -1;
    }
    return 0;
}

/* Send @len bytes of @buf with @fd attached (SCM_RIGHTS) */
static int send_with_fd(int sock, const void *buf, size_t len, int fd)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control.buf, .msg_controllen = sizeof(control.buf),
    };
    struct cmsghdr *cmsg;
    ssize_t n;

    memset(&control, 0, sizeof(control));
    cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    do {
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)len ? 0 : -1;
}

int vmsg_link_accept(struct vmsg_link *l)
{
    uint8_t setup[VMSG_LINK_SETUP_SIZE] = { 0 };
    uint16_t version = htole16(VMSG_LINK_VERSION);
    uint32_t qsize = htole32(VMSG_LINK_QUEUE_SIZE);

    vmsg_link_disconnect(l);
    do {
        l->sock = accept4(l->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    } while (l->sock < 0 && errno == EINTR);
    if (l->sock < 0) {
        return fail(l, "accept: %s", strerror(errno));
    }
    /* fresh, zeroed queues for every connection */
    l->memfd = memfd_create("virtio-msg-link",
                            MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (l->memfd < 0 || ftruncate(l->memfd, VMSG_LINK_SHM_SIZE) < 0 ||
        fcntl(l->memfd, F_ADD_SEALS, LINK_SEALS) < 0) {
        fail(l, "cannot create the queues: %s", strerror(errno));
        vmsg_link_disconnect(l);
        return -1;
    }
    l->shm = mmap(NULL, VMSG_LINK_SHM_SIZE, PROT_READ | PROT_WRITE,
                  MAP_SHARED, l->memfd, 0);
    if (l->shm == MAP_FAILED) {
        l->shm = NULL;
        fail(l, "cannot map the queues: %s", strerror(errno));
        vmsg_link_disconnect(l);
        return -1;
    }
    memcpy(setup, VMSG_LINK_MAGIC, 6);
    memcpy(setup + 6, &version, 2);
    memcpy(setup + 8, &qsize, 4);
    if (send_with_fd(l->sock, setup, sizeof(setup), l->memfd) < 0) {
        fail(l, "cannot send the setup: %s", strerror(errno));
        vmsg_link_disconnect(l);
        return -1;
    }
    attach_queues(l, true);
    return 0;
}

/* Close every file descriptor that came with @msg */
static int close_fds(struct msghdr *msg, int *keep)
{
    int n = 0;

    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
             i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (keep && *keep < 0 && n == 0) {
                *keep = fd;
            } else {
                close(fd);
            }
            n++;
        }
    }
    return n;
}

/*
 * Receive up to @len bytes; file descriptors that come along are closed,
 * except the first one when @fd is given and still -1.  *@nfds counts them.
 */
static ssize_t recv_fds(int sock, void *buf, size_t len, int *fd, int *nfds,
                        int flags)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * 8)];
    } control;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control.buf, .msg_controllen = sizeof(control.buf),
    };
    ssize_t n;

    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
        int got = close_fds(&msg, fd);

        if (nfds) {
            *nfds += got;
        }
    }
    return n;
}

static int connect_retry(struct vmsg_link *l, const struct sockaddr_un *sun,
                         int retry_ms)
{
    const struct timespec pause = { .tv_nsec = 100 * 1000 * 1000 };

    for (;;) {
        l->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (l->sock < 0) {
            return fail(l, "socket: %s", strerror(errno));
        }
        if (connect(l->sock, (const struct sockaddr *)sun, sizeof(*sun)) ==
            0) {
            return 0;
        }
        fail(l, "cannot connect to %s: %s", sun->sun_path, strerror(errno));
        close(l->sock);
        l->sock = -1;
        if ((errno != ENOENT && errno != ECONNREFUSED) || retry_ms <= 0) {
            return -1;
        }
        nanosleep(&pause, NULL);
        retry_ms -= 100;
    }
}

int vmsg_link_connect(struct vmsg_link *l, const char *path, int retry_ms)
{
    uint8_t setup[VMSG_LINK_SETUP_SIZE];
    struct sockaddr_un sun;
    size_t got = 0;
    int nfds = 0, seals;
    uint16_t version;
    uint32_t qsize;
    struct stat st;

    vmsg_link_disconnect(l);
    if (unix_address(l, path, &sun) < 0 || connect_retry(l, &sun, retry_ms)) {
        return -1;
    }
    /* exactly 16 bytes: what follows is doorbells, for later */
    while (got < sizeof(setup)) {
        ssize_t n = recv_fds(l->sock, setup + got, sizeof(setup) - got,
                             &l->memfd, &nfds, 0);

        if (n <= 0) {
            fail(l, "no setup from the other side");
            goto bad;
        }
        got += n;
    }
    memcpy(&version, setup + 6, 2);
    memcpy(&qsize, setup + 8, 4);
    if (memcmp(setup, VMSG_LINK_MAGIC, 6) ||
        le16toh(version) != VMSG_LINK_VERSION ||
        le32toh(qsize) != VMSG_LINK_QUEUE_SIZE) {
        fail(l, "invalid setup (magic, version or queue size)");
        goto bad;
    }
    seals = l->memfd < 0 ? -1 : fcntl(l->memfd, F_GET_SEALS);
    if (nfds != 1 || seals < 0 || !(seals & F_SEAL_SHRINK) ||
        fstat(l->memfd, &st) < 0 || st.st_size < VMSG_LINK_SHM_SIZE) {
        fail(l, "invalid setup (%d file descriptors, or a memfd that is "
             "not sealed against shrinking or too small)", nfds);
        goto bad;
    }
    l->shm = mmap(NULL, VMSG_LINK_SHM_SIZE, PROT_READ | PROT_WRITE,
                  MAP_SHARED, l->memfd, 0);
    if (l->shm == MAP_FAILED) {
        l->shm = NULL;
        fail(l, "cannot map the queues: %s", strerror(errno));
        goto bad;
    }
    attach_queues(l, false);
    return 0;

bad:
    vmsg_link_disconnect(l);
    return -1;
}

void vmsg_link_disconnect(struct vmsg_link *l)
{
    if (l->shm) {
        munmap(l->shm, VMSG_LINK_SHM_SIZE);
    }
    if (l->memfd >= 0) {
        close(l->memfd);
    }
    if (l->sock >= 0) {
        close(l->sock);
    }
    l->shm = l->tx = l->rx = NULL;
    l->memfd = -1;
    l->sock = -1;
}

void vmsg_link_close(struct vmsg_link *l)
{
    vmsg_link_disconnect(l);
    if (l->listen_fd >= 0) {
        close(l->listen_fd);
        l->listen_fd = -1;
    }
}

/*
 * The queues.  The other side may write anything into the shared memory:
 * every index read from it is reduced below the number of slots, and
 * messages are copied out before anybody looks at them.
 */

static uint32_t load_index(const uint8_t *q, size_t off)
{
    uint32_t v = __atomic_load_n((const uint32_t *)(q + off),
                                 __ATOMIC_ACQUIRE);

    return le32toh(v) % VMSG_LINK_SLOTS;
}

static void store_index(uint8_t *q, size_t off, uint32_t v)
{
    __atomic_store_n((uint32_t *)(q + off), htole32(v), __ATOMIC_RELEASE);
}

static uint8_t *slot(uint8_t *q, uint32_t i)
{
    return q + VMSG_LINK_SLOTS_OFF + (size_t)i * VMSG_LINK_MSG_SIZE;
}

unsigned vmsg_link_tx_free(struct vmsg_link *l)
{
    uint32_t head, tail;

    if (!l->tx) {
        return 0;
    }
    head = load_index(l->tx, VMSG_LINK_HEAD_OFF);
    tail = load_index(l->tx, VMSG_LINK_TAIL_OFF);
    return VMSG_LINK_SLOTS - 1 -
           (head + VMSG_LINK_SLOTS - tail) % VMSG_LINK_SLOTS;
}

bool vmsg_link_send(struct vmsg_link *l, const void *msg, size_t len)
{
    uint32_t head, next;
    uint8_t *s;

    if (!l->tx || len > VMSG_LINK_MSG_SIZE) {
        return false;
    }
    head = load_index(l->tx, VMSG_LINK_HEAD_OFF);
    next = (head + 1) % VMSG_LINK_SLOTS;
    if (next == load_index(l->tx, VMSG_LINK_TAIL_OFF)) {
        return false;   /* full */
    }
    s = slot(l->tx, head);
    memcpy(s, msg, len);
    memset(s + len, 0, VMSG_LINK_MSG_SIZE - len);
    /* release: the slot is written before the new head is seen */
    store_index(l->tx, VMSG_LINK_HEAD_OFF, next);
    return true;
}

bool vmsg_link_recv(struct vmsg_link *l, uint8_t *msg)
{
    uint32_t head, tail;

    if (!l->rx) {
        return false;
    }
    /* acquire: the head is read before the slot it covers */
    head = load_index(l->rx, VMSG_LINK_HEAD_OFF);
    tail = load_index(l->rx, VMSG_LINK_TAIL_OFF);
    if (head == tail) {
        return false;
    }
    memcpy(msg, slot(l->rx, tail), VMSG_LINK_MSG_SIZE);
    /* the copy is complete before the slot goes back to the producer */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    store_index(l->rx, VMSG_LINK_TAIL_OFF, (tail + 1) % VMSG_LINK_SLOTS);
    return true;
}

void vmsg_link_doorbell(struct vmsg_link *l)
{
    uint8_t b = VMSG_LINK_DOORBELL;

    /* a full socket holds doorbells not read yet: nothing is lost */
    if (l->sock >= 0) {
        ssize_t n = send(l->sock, &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT);

        (void)n;
    }
}

int vmsg_link_wait(struct vmsg_link *l, int timeout_ms)
{
    struct pollfd pfd = { .fd = l->sock, .events = POLLIN };
    uint8_t buf[64];
    ssize_t n;
    int r;

    if (l->sock < 0) {
        return fail(l, "not connected");
    }
    do {
        r = poll(&pfd, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        return fail(l, "poll: %s", strerror(errno));
    }
    if (r == 0) {
        return 0;
    }
    /* read whatever is there, without blocking */
    for (;;) {
        n = recv_fds(l->sock, buf, sizeof(buf), NULL, NULL, MSG_DONTWAIT);
        if (n == 0) {
            return fail(l, "the other side closed the connection");
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return 1;
            }
            return fail(l, "recv: %s", strerror(errno));
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != VMSG_LINK_DOORBELL) {
                return fail(l, "protocol error: byte 0x%02x on the socket",
                            buf[i]);
            }
        }
    }
}
