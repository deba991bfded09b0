/*
 * bench-run: run a command and report its wall-clock and CPU time
 *
 * Usage: bench-run TIMEOUT_S LOG COMMAND [ARG...]
 *
 * Runs COMMAND with stdin from /dev/null and stdout and stderr into LOG,
 * kills it (SIGKILL) after TIMEOUT_S seconds, and prints one line
 *
 *   bench-run: wall_us=W user_us=U sys_us=S status=X
 *
 * where U and S come from the child's rusage (wait4()), which covers all
 * of its threads, and X is its exit status (128 + signal number if it was
 * killed by a signal).  bench-run exits 0 if it could run COMMAND, 2 if
 * not.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t tv_us(const struct timeval *tv)
{
    return (uint64_t)tv->tv_sec * 1000000 + tv->tv_usec;
}

static void child(const char *log, char **argv)
{
    int in = open("/dev/null", O_RDONLY);
    int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
        dup2(out, 2) < 0) {
        perror("bench-run: redirecting");
        _exit(127);
    }
    execvp(argv[0], argv);
    fprintf(stderr, "bench-run: %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

int main(int argc, char **argv)
{
    struct rusage ru;
    uint64_t start, deadline;
    long timeout_s;
    int status, code;
    pid_t pid, r;

    if (argc < 4 || sscanf(argv[1], "%ld", &timeout_s) != 1 ||
        timeout_s <= 0) {
        fprintf(stderr, "usage: bench-run TIMEOUT_S LOG COMMAND [ARG...]\n");
        return 2;
    }
    start = now_us();
    deadline = start + (uint64_t)timeout_s * 1000000;
    pid = fork();
    if (pid < 0) {
        perror("bench-run: fork");
        return 2;
    }
    if (pid == 0) {
        child(argv[2], argv + 3);
    }

    /* poll, so that the timeout needs no signal handler */
    for (;;) {
        r = wait4(pid, &status, WNOHANG, &ru);
        if (r == pid) {
            break;
        }
        if (r < 0 && errno != EINTR) {
            perror("bench-run: wait4");
            return 2;
        }
        if (now_us() >= deadline) {
            kill(pid, SIGKILL);
            if (wait4(pid, &status, 0, &ru) != pid) {
                perror("bench-run: wait4");
                return 2;
            }
            break;
        }
        usleep(2000);
    }
    code = WIFEXITED(status) ? WEXITSTATUS(status)
         : 128 + WTERMSIG(status);
    printf("bench-run: wall_us=%llu user_us=%llu sys_us=%llu status=%d\n",
           (unsigned long long)(now_us() - start),
           (unsigned long long)tv_us(&ru.ru_utime),
           (unsigned long long)tv_us(&ru.ru_stime), code);
    return code == 127 ? 2 : 0;
}
