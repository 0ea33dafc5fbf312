// Preloaded into servers run under valgrind by Benchmarks/instructions.sh.
//
// libdispatch parks the main thread of an async `main` in sigsuspend() with a mask that lives in
// read-only memory. Valgrind 3.19's rt_sigsuspend wrapper writes to that mask and crashes
// ("VALGRIND INTERNAL ERROR: Valgrind received a signal 11"). This sigsuspend hands the kernel a
// writable copy instead; nothing else changes.
#define _GNU_SOURCE
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

int sigsuspend(const sigset_t *mask) {
    sigset_t copy = *mask;
    return (int)syscall(SYS_rt_sigsuspend, &copy, _NSIG / 8);
}
