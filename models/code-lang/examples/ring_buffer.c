/* A fixed-size ring buffer of bytes: one writer, one reader, no locking. */
#include <stddef.h>
#include <stdint.h>

#define RING_CAPACITY 256 /* must be a power of two */

struct ring {
    uint8_t data[RING_CAPACITY];
    size_t head; /* next slot to write */
    size_t tail; /* next slot to read */
};

static size_t ring_used(const struct ring *r) { return r->head - r->tail; }

/* Returns the number of bytes written (fewer than n when the ring is full). */
size_t ring_write(struct ring *r, const uint8_t *src, size_t n) {
    size_t written = 0;
    while (written < n && ring_used(r) < RING_CAPACITY) {
        r->data[r->head & (RING_CAPACITY - 1)] = src[written++];
        r->head++;
    }
    return written;
}

/* Returns the number of bytes read (fewer than n when the ring runs empty). */
size_t ring_read(struct ring *r, uint8_t *dst, size_t n) {
    size_t count = 0;
    while (count < n && ring_used(r) > 0) {
        dst[count++] = r->data[r->tail & (RING_CAPACITY - 1)];
        r->tail++;
    }
    return count;
}
