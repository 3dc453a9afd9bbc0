/*
 * Bitmap searches, word at a time.
 */
#include "util/bitmap.h"

static uint32_t find_next(const uint64_t *map, uint32_t nbits, uint32_t start, uint64_t invert)
{
	uint32_t i;
	uint64_t w;

	if (start >= nbits)
		return nbits;
	i = start / 64;
	w = (map[i] ^ invert) & (~0ull << (start % 64));
	for (;;) {
		if (w) {
			uint32_t bit = i * 64 + (uint32_t)__builtin_ctzll(w);
			return bit < nbits ? bit : nbits;
		}
		if (++i >= IMS_BITMAP_WORDS(nbits))
			return nbits;
		w = map[i] ^ invert;
	}
}

uint32_t ims__find_next_bit(const uint64_t *map, uint32_t nbits, uint32_t start)
{
	return find_next(map, nbits, start, 0);
}

uint32_t ims__find_next_zero_bit(const uint64_t *map, uint32_t nbits, uint32_t start)
{
	return find_next(map, nbits, start, ~0ull);
}

uint32_t ims__find_last_bit(const uint64_t *map, uint32_t nbits)
{
	uint32_t i = IMS_BITMAP_WORDS(nbits);

	while (i--) {
		uint64_t w = map[i];

		if (i == nbits / 64 && nbits % 64)
			w &= (1ull << (nbits % 64)) - 1;
		if (i * 64 >= nbits)
			continue;
		if (w)
			return i * 64 + 63 - (uint32_t)__builtin_clzll(w);
	}
	return nbits;
}

uint32_t ims__find_zero_area(const uint64_t *map, uint32_t nbits, uint32_t start,
			     uint32_t nr, uint32_t align)
{
	uint32_t mask = align ? align - 1 : 0;

	if (nr == 0)
		return start <= nbits ? start : nbits;
	for (;;) {
		uint32_t idx = ims__find_next_zero_bit(map, nbits, start);
		uint32_t end, busy;

		idx = (idx + mask) & ~mask;
		if (idx >= nbits || nr > nbits - idx)
			return nbits;
		end = idx + nr;
		busy = ims__find_next_bit(map, end, idx);
		if (busy >= end)
			return idx;
		start = busy + 1;
	}
}

void ims__bitmap_set(uint64_t *map, uint32_t start, uint32_t nr)
{
	while (nr && start % 64) {
		ims__set_bit(map, start++);
		nr--;
	}
	while (nr >= 64) {
		map[start / 64] = ~0ull;
		start += 64;
		nr -= 64;
	}
	while (nr--)
		ims__set_bit(map, start++);
}

void ims__bitmap_clear(uint64_t *map, uint32_t start, uint32_t nr)
{
	while (nr && start % 64) {
		ims__clear_bit(map, start++);
		nr--;
	}
	while (nr >= 64) {
		map[start / 64] = 0;
		start += 64;
		nr -= 64;
	}
	while (nr--)
		ims__clear_bit(map, start++);
}

uint32_t ims__bitmap_weight(const uint64_t *map, uint32_t nbits)
{
	uint32_t i, w = 0;

	for (i = 0; i < nbits / 64; i++)
		w += (uint32_t)__builtin_popcountll(map[i]);
	if (nbits % 64)
		w += (uint32_t)__builtin_popcountll(map[i] & ((1ull << (nbits % 64)) - 1));
	return w;
}

bool ims__bitmap_range_clear(const uint64_t *map, uint32_t start, uint32_t nr)
{
	return ims__find_next_bit(map, start + nr, start) >= start + nr;
}

bool ims__bitmap_range_set(const uint64_t *map, uint32_t start, uint32_t nr)
{
	return ims__find_next_zero_bit(map, start + nr, start) >= start + nr;
}
