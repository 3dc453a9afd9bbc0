/*
 * A fabric sink for tests that records every interrupt write a device
 * model hands it. Thread-safe: a device thread may signal while the test
 * reads the count. Header-only so that only the tests that use it carry it.
 */
#ifndef IMS_TESTS_MSI_REC_H
#define IMS_TESTS_MSI_REC_H

#include <stdatomic.h>
#include <string.h>

#include "hw/bus.h"
#include "util/lock.h"

#define MSI_REC_MAX 4096

struct msi_rec {
	ims_spinlock_t lock;	/* guards w[] and n */
	unsigned int n;		/* writes seen (w[] keeps the first MSI_REC_MAX) */
	struct ims_hw_msi_write w[MSI_REC_MAX];
};

static inline void msi_rec_fn(void *ctx, const struct ims_hw_msi_write *w)
{
	struct msi_rec *r = ctx;

	ims__spin_lock(&r->lock);
	if (r->n < MSI_REC_MAX)
		r->w[r->n] = *w;
	r->n++;
	ims__spin_unlock(&r->lock);
}

static inline void msi_rec_init(struct msi_rec *r, struct ims_hw_msi_sink *sink)
{
	memset(r, 0, sizeof(*r));
	ims__spin_init(&r->lock);
	sink->fn = msi_rec_fn;
	sink->ctx = r;
}

static inline unsigned int msi_rec_count(struct msi_rec *r)
{
	unsigned int n;

	ims__spin_lock(&r->lock);
	n = r->n;
	ims__spin_unlock(&r->lock);
	return n;
}

/* The last write seen (the recorder must have seen at least one). */
static inline struct ims_hw_msi_write msi_rec_last(struct msi_rec *r)
{
	struct ims_hw_msi_write w;

	ims__spin_lock(&r->lock);
	w = r->w[(r->n < MSI_REC_MAX ? r->n : MSI_REC_MAX) - 1];
	ims__spin_unlock(&r->lock);
	return w;
}

#endif
