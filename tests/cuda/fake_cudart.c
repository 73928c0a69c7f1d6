/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A stand-in libcudart for the cuda registrar's tests (no GPU on the host):
 * the four entry points umn uses, with the runtime's rules for host
 * registration (no overlap; unregister the exact pointer registered).
 * FAKE_CUDART_DEVICES=0 makes cudaGetDeviceCount fail as on a machine
 * without a GPU.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

enum { success = 0, invalid_value = 1, no_device = 100, not_registered = 713,
       already_registered = 712, max_ranges = 64 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct { uintptr_t start, end; } ranges[max_ranges];
static int live;

int cudaGetDeviceCount(int *count) {
    const char *devices = getenv("FAKE_CUDART_DEVICES");
    if (devices && atoi(devices) == 0) return no_device;
    *count = 1;
    return success;
}

const char *cudaGetErrorString(int error) {
    switch (error) {
        case success: return "no error";
        case invalid_value: return "invalid argument";
        case no_device: return "no CUDA-capable device is detected";
        case already_registered: return "part or all of the requested memory range is already mapped";
        case not_registered: return "pointer does not correspond to a registered memory region";
        default: return "unrecognized error code";
    }
}

int cudaHostRegister(void *ptr, size_t size, unsigned flags) {
    uintptr_t s = (uintptr_t)ptr, e = s + size;
    int i, rc = success, slot = -1;
    if (!ptr || !size || flags > 15) return invalid_value;
    pthread_mutex_lock(&lock);
    for (i = 0; i < max_ranges; ++i) {
        if (ranges[i].end == 0) {
            if (slot < 0) slot = i;
        } else if (ranges[i].start < e && s < ranges[i].end) {
            rc = already_registered;
        }
    }
    if (rc == success && slot < 0) rc = invalid_value;
    if (rc == success) {
        ranges[slot].start = s;
        ranges[slot].end = e;
        ++live;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int cudaHostUnregister(void *ptr) {
    int i, rc = not_registered;
    pthread_mutex_lock(&lock);
    for (i = 0; i < max_ranges; ++i) {
        if (ranges[i].end != 0 && ranges[i].start == (uintptr_t)ptr) {
            ranges[i].start = ranges[i].end = 0;
            --live;
            rc = success;
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

/* For the tests: host ranges registered now. */
int fake_cudart_live(void) {
    int n;
    pthread_mutex_lock(&lock);
    n = live;
    pthread_mutex_unlock(&lock);
    return n;
}
