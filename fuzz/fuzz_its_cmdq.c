/*
 * The ITS model against a reference model of its commands: the input is a
 * sequence of operations (a command with fields drawn from the input, a
 * doorbell write with a requester id and EventID, an acknowledge and EOI on
 * a CPU, a raw 32-byte command). The model must never crash, must refuse
 * exactly the commands the reference says are bad, with the reference's
 * error code, count every refusal, and must fault exactly the messages the
 * reference cannot translate (and make the others pending on the CPU the
 * reference names).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "helpers/gic_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCPU 4u
#define NITT 4u
#define ITT_CAP 64u		/* entries in each ITT region */
#define NDEV 8192u		/* device table entries (the harness's 16 pages) */
#define NCOLL 512u
#define NEV 80u
#define LPI_BITS 14u

struct ref_dev { bool valid; uint32_t bits; int itt; /* -1: not RAM */ };
struct ref_ite { bool valid; uint32_t lpi, icid; };
struct ref_cte { bool valid; uint32_t cpu; };

static struct ref_dev rdev[NDEV];
static struct ref_ite rite[NITT][ITT_CAP];
static struct ref_cte rcte[NCOLL];
static uint64_t itt_pa[NITT];

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t next(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint32_t next32(struct in *in)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)next(in) << (8 * i);
	return v;
}

static int dte(uint32_t devid, struct ref_dev **d)
{
	if (devid >= NDEV)
		return IMS_ITS_ERR_DEVID_RANGE;
	if (!rdev[devid].valid)
		return IMS_ITS_ERR_DEV_UNMAPPED;
	*d = &rdev[devid];
	return 0;
}

static int cte(uint32_t icid, uint32_t *cpu)
{
	if (icid >= NCOLL)
		return IMS_ITS_ERR_ICID_RANGE;
	if (!rcte[icid].valid)
		return IMS_ITS_ERR_COLL_UNMAPPED;
	*cpu = rcte[icid].cpu;
	return 0;
}

/* DeviceID + EventID -> ITT entry, as the model walks it. */
static int ite(uint32_t devid, uint32_t ev, struct ref_ite **e)
{
	struct ref_dev *d;
	int err = dte(devid, &d);

	if (err)
		return err;
	if (d->bits < 32 && (ev >> d->bits))
		return IMS_ITS_ERR_EVENTID_RANGE;
	if (d->itt < 0 || ev >= ITT_CAP)
		return IMS_ITS_ERR_MEMORY;
	*e = &rite[d->itt][ev];
	return 0;
}

static int walk(uint32_t devid, uint32_t ev, bool need_coll, struct ref_ite **e, uint32_t *cpu, bool *coll_ok)
{
	int err = ite(devid, ev, e);

	if (err)
		return err;
	if (!(*e)->valid)
		return IMS_ITS_ERR_EVENT_UNMAPPED;
	err = cte((*e)->icid, cpu);
	*coll_ok = !err;
	return need_coll ? err : 0;
}

/* Predict and apply one command; returns the expected error code (low byte). */
static int ref_cmd(const uint64_t c[4])
{
	uint32_t devid = (uint32_t)(c[0] >> 32), ev = (uint32_t)c[1], icid = (uint32_t)(c[2] & 0xffff);
	uint64_t rdbase = (c[2] >> 16) & IMS_ITS_CMD_RDBASE_MASK, lpi;
	struct ref_ite *e;
	uint32_t cpu, to;
	bool coll_ok;
	int err;

	switch (c[0] & 0xff) {
	case IMS_ITS_CMD_MAPD:
		if (devid >= NDEV)
			return IMS_ITS_ERR_DEVID_RANGE;
		if (c[2] & IMS_ITS_CMD_VALID) {
			uint64_t a = c[2] & IMS_ITS_CMD_ITT_MASK;

			if ((c[1] & 0x1f) + 1 > 16)
				return IMS_ITS_ERR_ITT_SIZE;
			{
				rdev[devid].valid = true;
				rdev[devid].bits = (uint32_t)(c[1] & 0x1f) + 1;
				rdev[devid].itt = -1;
				for (unsigned i = 0; i < NITT; i++)
					if (a == itt_pa[i])
						rdev[devid].itt = (int)i;
			}
		} else {
			rdev[devid].valid = false;
		}
		return 0;
	case IMS_ITS_CMD_MAPC:
		if (icid >= NCOLL)
			return IMS_ITS_ERR_ICID_RANGE;
		if ((c[2] & IMS_ITS_CMD_VALID) && rdbase >= NCPU)
			return IMS_ITS_ERR_RDBASE_RANGE;
		rcte[icid].valid = c[2] & IMS_ITS_CMD_VALID;
		rcte[icid].cpu = (uint32_t)rdbase;
		return 0;
	case IMS_ITS_CMD_MAPTI:
	case IMS_ITS_CMD_MAPI:
		lpi = (c[0] & 0xff) == IMS_ITS_CMD_MAPI ? ev : c[1] >> 32;
		err = ite(devid, ev, &e);
		if (err)
			return err;
		if (lpi < IMS_LPI_BASE || lpi >= (1u << LPI_BITS))
			return IMS_ITS_ERR_LPI_RANGE;
		if (icid >= NCOLL)
			return IMS_ITS_ERR_ICID_RANGE;
		if (e->valid)
			return IMS_ITS_ERR_EVENT_MAPPED;
		*e = (struct ref_ite){ true, (uint32_t)lpi, icid };
		return 0;
	case IMS_ITS_CMD_MOVI:
		err = walk(devid, ev, true, &e, &cpu, &coll_ok);
		if (!err)
			err = cte(icid, &to);
		if (!err)
			e->icid = icid;
		return err;
	case IMS_ITS_CMD_DISCARD:
		err = walk(devid, ev, false, &e, &cpu, &coll_ok);
		if (!err)
			e->valid = false;
		return err;
	case IMS_ITS_CMD_INV:
	case IMS_ITS_CMD_INT:
	case IMS_ITS_CMD_CLEAR:
		return walk(devid, ev, true, &e, &cpu, &coll_ok);
	case IMS_ITS_CMD_INVALL:
		return cte(icid, &cpu);
	case IMS_ITS_CMD_SYNC:
		return rdbase < NCPU ? 0 : IMS_ITS_ERR_RDBASE_RANGE;
	default:
		return IMS_ITS_ERR_UNKNOWN_CMD;
	}
}

static const uint8_t cmds[] = {
	IMS_ITS_CMD_MAPD, IMS_ITS_CMD_MAPC, IMS_ITS_CMD_MAPTI, IMS_ITS_CMD_MAPI, IMS_ITS_CMD_MOVI,
	IMS_ITS_CMD_DISCARD, IMS_ITS_CMD_INV, IMS_ITS_CMD_INVALL, IMS_ITS_CMD_SYNC, IMS_ITS_CMD_INT,
	IMS_ITS_CMD_CLEAR,
};

/* A command with fields mostly in the interesting ranges. */
static void gen_cmd(struct in *in, uint64_t c[4])
{
	uint8_t k = next(in), f = next(in);
	uint32_t devid = f & 0x80 ? next32(in) & 0xffff : next(in) % 16;
	uint32_t ev = f & 0x40 ? next32(in) : next(in) % NEV;
	uint64_t lpi = f & 0x20 ? next32(in) : IMS_LPI_BASE + next(in) % 64u;
	uint32_t icid = f & 0x10 ? (uint32_t)next32(in) % 1024 : next(in) % 8u;
	uint64_t rdbase = f & 0x08 ? next(in) : next(in) % (NCPU + 1);
	uint8_t sel = next(in);
	uint64_t itt = sel < 240 ? itt_pa[sel % NITT] : (uint64_t)next32(in) << 8;
	uint8_t sz = next(in);

	memset(c, 0, 4 * sizeof(uint64_t));
	c[0] = (k < 250 ? cmds[k % sizeof(cmds)] : k) | (uint64_t)devid << 32;
	switch (c[0] & 0xff) {
	case IMS_ITS_CMD_MAPD:
		c[1] = sz < 200 ? sz % 6 + 1 : sz % 32;
		c[2] = (itt & IMS_ITS_CMD_ITT_MASK) | (f & 1 ? 0 : IMS_ITS_CMD_VALID);
		break;
	case IMS_ITS_CMD_MAPC:
		/* Map only the ICIDs the reference tracks. */
		c[2] = (icid % 8) | (rdbase << 16) | (f & 1 ? 0 : IMS_ITS_CMD_VALID);
		break;
	case IMS_ITS_CMD_SYNC:
		c[2] = rdbase << 16;
		break;
	case IMS_ITS_CMD_MAPTI:
		c[1] = ev | lpi << 32;
		c[2] = icid >= 8 && icid < NCOLL ? icid % 8 : icid;
		break;
	case IMS_ITS_CMD_MAPI:
		c[1] = ev;
		c[2] = icid >= 8 && icid < NCOLL ? icid % 8 : icid;
		break;
	default:
		c[1] = ev;
		c[2] = icid;
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gic_harness h;
	struct in in = { data, size };
	struct ims_hw_its_stats st;
	uint64_t errors = 0, faults = 0;

	if (gh_init(&h, NCPU, LPI_BITS))
		abort();
	memset(rdev, 0, sizeof(rdev));
	memset(rite, 0, sizeof(rite));
	memset(rcte, 0, sizeof(rcte));
	for (unsigned i = 0; i < NITT; i++)
		if (!gh_alloc(&h, ITT_CAP * 8, 256, &itt_pa[i]))
			abort();
	while (in.n) {
		uint8_t op = next(&in);
		uint64_t c[4];

		switch (op % 5) {
		case 0:
		case 1: {
			int want;
			uint32_t got;

			gen_cmd(&in, c);
			want = ref_cmd(c);
			got = gh_cmd(&h, c[0], c[1], c[2], c[3]);
			if ((got & 0xff) != (uint32_t)want || (want && (got >> 8) != (c[0] & 0xff))) {
				fprintf(stderr, "command %016llx %016llx %016llx: ITS said 0x%x, reference 0x%x\n",
					(unsigned long long)c[0], (unsigned long long)c[1],
					(unsigned long long)c[2], got, want);
				abort();
			}
			errors += want != 0;
			break;
		}
		case 2: {
			uint32_t rid = next(&in) % 16, ev = next(&in) % NEV, cpu;
			struct ref_ite *e;
			bool coll_ok;
			int want = walk(rid, ev, true, &e, &cpu, &coll_ok);

			gh_fire(&h, (uint16_t)rid, ev);
			faults += want != 0;
			if (!want && !ims__hw_gic_lpi_pending(h.gic, cpu, e->lpi))
				abort();	/* translated: pending on the reference's CPU */
			break;
		}
		case 3: {
			uint32_t cpu = next(&in) % NCPU, intid = gh_ack(&h, cpu);

			if (intid != IMS_ICC_SPURIOUS)
				gh_eoi(&h, cpu, intid);
			break;
		}
		case 4: {
			/* Raw command words: only robustness and counting. */
			uint32_t got;

			for (int i = 0; i < 4; i++)
				c[i] = (uint64_t)next32(&in) | (uint64_t)next32(&in) << 32;
			if ((c[0] & 0xff) == IMS_ITS_CMD_MAPC || (c[0] & 0xff) == IMS_ITS_CMD_MAPD ||
			    (c[0] & 0xff) == IMS_ITS_CMD_MAPTI || (c[0] & 0xff) == IMS_ITS_CMD_MAPI ||
			    (c[0] & 0xff) == IMS_ITS_CMD_MOVI || (c[0] & 0xff) == IMS_ITS_CMD_DISCARD)
				c[0] = (c[0] & ~0xffull) | IMS_ITS_CMD_SYNC;	/* keep the reference exact */
			got = gh_cmd(&h, c[0], c[1], c[2], c[3]);
			if ((got != 0) != (ref_cmd(c) != 0))
				abort();
			errors += got != 0;
			break;
		}
		}
	}
	ims__hw_gic_its_stats(h.gic, &st);
	if (st.command_errors != errors || gh_its_read(&h, IMS_GITS_ERR_COUNT) != errors)
		abort();
	if (st.faults != faults)
		abort();
	gh_fini(&h);
	return 0;
}
