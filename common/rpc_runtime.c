/* rpc_runtime.c - abseil's deadlock detection off, found at run time.
 *
 * abseil's switch is C++ (absl::SetMutexDeadlockDetectionMode), and its
 * inline namespace names the abseil build ("debian3" on Debian 12), so
 * the symbol is looked up by its mangled names rather than linked: an
 * abseil without it, or a later one under another namespace, is left as
 * it is. The enum's first value, kIgnore, is 0, and a scoped enum is
 * passed as an int. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE                         /* RTLD_DEFAULT */
#endif
#include "rpc_runtime.h"

#include <dlfcn.h>
#include <stddef.h>

static const char *const deadlock_mode_symbols[] = {
    "_ZN4absl7debian329SetMutexDeadlockDetectionModeENS0_15OnDeadlockCycleE",
    "_ZN4absl12lts_2022062329SetMutexDeadlockDetectionModeENS0_15"
    "OnDeadlockCycleE",
    "_ZN4absl29SetMutexDeadlockDetectionModeENS_15OnDeadlockCycleE",
};

int rpc_runtime_tune(void) {
    for (size_t i = 0; i < sizeof(deadlock_mode_symbols) /
                           sizeof(deadlock_mode_symbols[0]); i++) {
        void *sym = dlsym(RTLD_DEFAULT, deadlock_mode_symbols[i]);
        if (sym == NULL) continue;
        void (*set_mode)(int);
        *(void **)&set_mode = sym;
        set_mode(0);                        /* OnDeadlockCycle::kIgnore */
        return 1;
    }
    return 0;
}
