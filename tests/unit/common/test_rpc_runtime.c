/* test_rpc_runtime.c - abseil's deadlock detection switch is found. */
#include <check.h>
#include <grpc/grpc.h>

#include "testutil.h"
#include "rpc_runtime.h"

/* Debian 12's abseil (the one the project builds against) has the switch:
 * a later abseil that renames it fails here, not silently in production. */
START_TEST(test_switch_found) {
    ck_assert_int_eq(rpc_runtime_tune(), 1);
    grpc_init();                /* gRPC starts with detection off */
    ck_assert_int_eq(rpc_runtime_tune(), 1);
    grpc_shutdown();
}
END_TEST

int main(void) {
    const TTest *tests[] = {test_switch_found};
    return run_suite(one_case_suite("rpc_runtime", tests, 1));
}
