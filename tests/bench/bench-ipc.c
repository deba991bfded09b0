/*
 * bench-ipc: round trip of a one-byte message between two processes over
 * a Unix stream socket, the mechanism of the doorbells of
 * virtio-msg-bus-linux-user; what a request between two QEMUs can cost at
 * best on this machine
 *
 * Usage: bench-ipc [MILLISECONDS]
 *
 * The parent writes one byte, the child (a fork()) reads it and writes it
 * back, the parent reads it: one round trip, blocking reads on both sides.
 * It repeats for MILLISECONDS (default 500) and prints
 *
 *   bench-ipc: rtt_socket_ns=N
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Transfer one byte; false on end of file or error */
static bool xfer(int fd, char *c, int out)
{
    ssize_t n;

    do {
        n = out ? write(fd, c, 1) : read(fd, c, 1);
    } while (n < 0 && errno == EINTR);
    return n == 1;
}

static void echo(int fd)
{
    char c;

    while (xfer(fd, &c, 0) && xfer(fd, &c, 1)) {
        /* nothing else */
    }
    _exit(0);
}

int main(int argc, char **argv)
{
    uint64_t ms = 500, start, end, now, n = 0;
    int sv[2], status;
    char c = 0;
    pid_t pid;

    if (argc > 2 || (argc == 2 && sscanf(argv[1], "%" SCNu64, &ms) != 1) ||
        !ms) {
        fprintf(stderr, "usage: bench-ipc [MILLISECONDS]\n");
        return 2;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        perror("bench-ipc: socketpair");
        return 2;
    }
    pid = fork();
    if (pid < 0) {
        perror("bench-ipc: fork");
        return 2;
    }
    if (pid == 0) {
        close(sv[0]);
        echo(sv[1]);
    }
    close(sv[1]);

    start = now = now_ns();
    end = start + ms * 1000000ULL;
    while (now < end) {
        c++;
        if (!xfer(sv[0], &c, 1) || !xfer(sv[0], &c, 0)) {
            fprintf(stderr, "bench-ipc: the echo process went away\n");
            return 2;
        }
        n++;
        now = now_ns();
    }
    close(sv[0]);
    waitpid(pid, &status, 0);
    printf("bench-ipc: rtt_socket_ns=%" PRIu64 "\n", (now - start) / n);
    return 0;
}
