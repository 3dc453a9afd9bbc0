/*
 * Bitmaps of 64-bit words. Not atomic: callers hold the lock that guards the
 * map. Bit i lives in word i / 64 at position i % 64.
 */
#ifndef IMS_UTIL_BITMAP_H
#define IMS_UTIL_BITMAP_H

#include <stdbool.h>
#include <stdint.h>

#define IMS_BITS_PER_WORD 64u
#define IMS_BITMAP_WORDS(n) (((n) + IMS_BITS_PER_WORD - 1) / IMS_BITS_PER_WORD)

static inline bool ims__test_bit(const uint64_t *map, uint32_t bit)
{
	return (map[bit / 64] >> (bit % 64)) & 1;
}

static inline void ims__set_bit(uint64_t *map, uint32_t bit)
{
	map[bit / 64] |= 1ull << (bit % 64);
}

static inline void ims__clear_bit(uint64_t *map, uint32_t bit)
{
	map[bit / 64] &= ~(1ull << (bit % 64));
}

/* First set (or clear) bit at or after start, or nbits if none. */
uint32_t ims__find_next_bit(const uint64_t *map, uint32_t nbits, uint32_t start);
uint32_t ims__find_next_zero_bit(const uint64_t *map, uint32_t nbits, uint32_t start);
/* Highest set bit below nbits, or nbits if none. */
uint32_t ims__find_last_bit(const uint64_t *map, uint32_t nbits);
/*
 * First run of nr clear bits at or after start whose first bit is a multiple
 * of align (a power of two), or nbits if none.
 */
uint32_t ims__find_zero_area(const uint64_t *map, uint32_t nbits, uint32_t start,
			     uint32_t nr, uint32_t align);
void ims__bitmap_set(uint64_t *map, uint32_t start, uint32_t nr);
void ims__bitmap_clear(uint64_t *map, uint32_t start, uint32_t nr);
uint32_t ims__bitmap_weight(const uint64_t *map, uint32_t nbits);
/* True if every bit of [start, start + nr) is clear. */
bool ims__bitmap_range_clear(const uint64_t *map, uint32_t start, uint32_t nr);
/* True if every bit of [start, start + nr) is set. */
bool ims__bitmap_range_set(const uint64_t *map, uint32_t start, uint32_t nr);

#endif
