/*
 * IMS in system memory. The shadows are memory the OS writes at any time,
 * so they are atomics, read by the device only when a command loads one.
 * Loading goes through ims__hw_slot_set_ctrl_locked(), the same transition
 * owner as the array variant: a pending signal is sent when the loaded
 * control unmasks the slot.
 */
#include <errno.h>
#include <stdatomic.h>

#include "hw/ims/ims_queue.h"
#include "util/alloc.h"
#include "util/fault.h"
#include "util/lock.h"
#include "util/log.h"

#define IMS_QUEUE_MAX (1u << 20)

struct ims_hw_ims_queue {
	uint32_t nr;
	/*
	 * Guards active, pending, status and stats; not the shadows, which
	 * are system memory. The sink is called under it.
	 */
	ims_spinlock_t lock;
	uint32_t status;
	struct ims_hw_slot_out out;
	struct ims_hw_ims_stats stats;
	struct ims_hw_slot *active;		/* what the device has taken into effect */
	bool *pending;
	_Atomic uint32_t (*shadow)[4];		/* system memory, one slot per queue */
};

static uint32_t queue_command_locked(struct ims_hw_ims_queue *q, uint32_t cmd)
{
	uint32_t op = cmd >> IMS_QUEUE_CMD_OP_SHIFT;
	uint32_t i = cmd & IMS_QUEUE_CMD_QUEUE_MASK;
	struct ims_hw_slot *s;
	uint32_t ctrl;

	ims__assert_spin_held(&q->lock);
	if (op != IMS_QUEUE_CMD_OP_LOAD_IRQ || i >= q->nr ||
	    (cmd & ~(IMS_QUEUE_CMD_QUEUE_MASK | 0xfu << IMS_QUEUE_CMD_OP_SHIFT)))
		return IMS_QUEUE_STATUS_INVALID;
	/* The device may fail to fetch its context; nothing changes then. */
	if (ims__fault("ims_queue_cmd"))
		return IMS_QUEUE_STATUS_DEVICE_ERROR;
	s = &q->active[i];
	s->addr_lo = atomic_load_explicit(&q->shadow[i][0], memory_order_acquire) & ~3u;
	s->addr_hi = atomic_load_explicit(&q->shadow[i][1], memory_order_acquire);
	s->data = atomic_load_explicit(&q->shadow[i][2], memory_order_acquire);
	ctrl = atomic_load_explicit(&q->shadow[i][3], memory_order_acquire);
	ims__hw_slot_set_ctrl_locked(s, &q->pending[i], ctrl, &q->out);
	return IMS_QUEUE_STATUS_OK;
}

uint32_t ims__hw_ims_queue_command(struct ims_hw_ims_queue *q, uint32_t cmd)
{
	uint32_t status;

	ims__spin_lock(&q->lock);
	status = q->status = queue_command_locked(q, cmd);
	ims__spin_unlock(&q->lock);
	return status;
}

static int regs_read(void *ctx, uint64_t off, uint32_t size, uint64_t *val)
{
	struct ims_hw_ims_queue *q = ctx;

	(void)size;
	ims__spin_lock(&q->lock);
	/* The command register reads as 0: commands run to completion. */
	*val = off == IMS_QUEUE_REG_STATUS ? q->status : 0;
	ims__spin_unlock(&q->lock);
	return 0;
}

static int regs_write(void *ctx, uint64_t off, uint32_t size, uint64_t val)
{
	struct ims_hw_ims_queue *q = ctx;

	(void)size;
	/* The status register is read-only. */
	if (off == IMS_QUEUE_REG_CMD)
		ims__hw_ims_queue_command(q, (uint32_t)val);
	return 0;
}

static const struct ims_hw_mmio_ops regs_ops = {
	.name = "ims-queue-regs",
	.read = regs_read,
	.write = regs_write,
	.sizes = IMS_HW_MMIO_SIZE(4),
};

static void queue_free(struct ims_hw_ims_queue *q)
{
	ims__free(q->shadow, q->nr * sizeof(*q->shadow));
	ims__free(q->pending, q->nr * sizeof(*q->pending));
	ims__free(q->active, q->nr * sizeof(*q->active));
	ims__free(q, sizeof(*q));
}

int ims__hw_ims_queue_create(const struct ims_hw_ims_queue_params *p,
			     const struct ims_hw_msi_sink *sink, struct ims_hw_ims_queue **out)
{
	struct ims_hw_ims_queue *q;

	if (!p->nr_queues || p->nr_queues > IMS_QUEUE_MAX)
		return ims__error(-EINVAL, "IMS queues: %u queues is not 1..%u", p->nr_queues,
				  IMS_QUEUE_MAX);
	if (!sink || !sink->fn)
		return ims__error(-EINVAL, "IMS queues: no sink for the messages");
	q = ims__zalloc(sizeof(*q), "ims_queue");
	if (!q)
		return -ENOMEM;
	q->nr = p->nr_queues;
	ims__spin_init(&q->lock);
	q->out = (struct ims_hw_slot_out){ *sink, p->rid, &q->stats, &q->lock };
	q->active = ims__calloc(q->nr, sizeof(*q->active), "ims_queue_active");
	if (!q->active)
		goto free;
	q->pending = ims__calloc(q->nr, sizeof(*q->pending), "ims_queue_pending");
	if (!q->pending)
		goto free;
	q->shadow = ims__calloc(q->nr, sizeof(*q->shadow), "ims_queue_shadow");
	if (!q->shadow)
		goto free;
	for (uint32_t i = 0; i < q->nr; i++) {
		ims__hw_slot_reset(&q->active[i]);
		for (int f = 0; f < 3; f++)
			atomic_init(&q->shadow[i][f], 0);
		atomic_init(&q->shadow[i][3], IMS_SLOT_CTRL_MASKBIT);
	}
	*out = q;
	return 0;
free:
	queue_free(q);
	return -ENOMEM;
}

void ims__hw_ims_queue_destroy(struct ims_hw_ims_queue *q)
{
	if (q)
		queue_free(q);
}

void ims__hw_ims_queue_region(struct ims_hw_ims_queue *q, struct ims_hw_mmio_region *r)
{
	*r = (struct ims_hw_mmio_region){ &regs_ops, q, IMS_QUEUE_REGS_SIZE };
}

static int check_shadow(const struct ims_hw_ims_queue *q, uint32_t queue, uint32_t off)
{
	if (queue >= q->nr || off >= IMS_SLOT_SIZE || off % 4)
		return ims__error(-EINVAL, "IMS queues: shadow of queue %u at 0x%x: no such field",
				  queue, off);
	return 0;
}

int ims__hw_ims_queue_shadow_write(struct ims_hw_ims_queue *q, uint32_t queue, uint32_t off,
				   uint32_t val)
{
	int err = check_shadow(q, queue, off);

	if (!err)
		atomic_store_explicit(&q->shadow[queue][off / 4], val, memory_order_release);
	return err;
}

int ims__hw_ims_queue_shadow_read(struct ims_hw_ims_queue *q, uint32_t queue, uint32_t off,
				  uint32_t *val)
{
	int err = check_shadow(q, queue, off);

	if (!err)
		*val = atomic_load_explicit(&q->shadow[queue][off / 4], memory_order_acquire);
	return err;
}

int ims__hw_ims_queue_signal(struct ims_hw_ims_queue *q, uint32_t queue, bool pasid_valid,
			     uint32_t pasid)
{
	int err;

	if (queue >= q->nr)
		return ims__error(-EINVAL, "IMS queues: queue %u beyond the %u it has", queue, q->nr);
	ims__spin_lock(&q->lock);
	err = ims__hw_slot_fire_locked(&q->active[queue], &q->pending[queue], pasid_valid, pasid,
				       &q->out);
	ims__spin_unlock(&q->lock);
	if (err)
		return ims__error(err, "IMS queues: queue %u refused a signal %s PASID 0x%x", queue,
				  pasid_valid ? "with" : "without", pasid);
	return 0;
}

int ims__hw_ims_queue_in_effect(struct ims_hw_ims_queue *q, uint32_t queue,
				struct ims_hw_slot *s)
{
	if (queue >= q->nr)
		return ims__error(-EINVAL, "IMS queues: queue %u beyond the %u it has", queue, q->nr);
	ims__spin_lock(&q->lock);
	*s = q->active[queue];
	ims__spin_unlock(&q->lock);
	return 0;
}

bool ims__hw_ims_queue_pending(struct ims_hw_ims_queue *q, uint32_t queue)
{
	bool p;

	if (queue >= q->nr)
		return false;
	ims__spin_lock(&q->lock);
	p = q->pending[queue];
	ims__spin_unlock(&q->lock);
	return p;
}

void ims__hw_ims_queue_get_stats(struct ims_hw_ims_queue *q, struct ims_hw_ims_stats *st)
{
	ims__spin_lock(&q->lock);
	*st = q->stats;
	ims__spin_unlock(&q->lock);
}
