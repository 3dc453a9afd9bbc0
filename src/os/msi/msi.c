/*
 * Per-device MSI, MSI-X and IMS domains. Each device domain is an irq
 * domain whose level holds one ims_msi_desc per vector; the descriptor store
 * is a sparse table indexed by slot or table index, with a bitmap of used
 * indices beside it. All state of a device's domains is guarded by the
 * device lock, taken before the core lock (docs/locking.md).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <ims/msi.h>

#include "util/alloc.h"
#include "util/bitmap.h"
#include "util/lock.h"
#include "util/log.h"
#include "os/irq/internal.h"
#include "os/msi/msi_internal.h"
#include "util/sparse.h"

/*
 * A domain's index -> irq table: chunks of 1024 irq numbers (+ 1; 0 is
 * none), made when an index of theirs is first used and given back when
 * none is. Four bytes per vector; the descriptor is found through the
 * core's irq table. Under the device lock.
 */
#define MAP_CHUNK_BITS 10u
#define MAP_CHUNK (1u << MAP_CHUNK_BITS)

struct index_map {
	uint32_t **chunk;
	uint16_t *used;
	uint32_t nchunks;
	void *spare;			/* one all-zero chunk kept for reuse */
};

static int map_init(struct index_map *m, uint32_t limit)
{
	m->nchunks = IMS_DIV_ROUND_UP(limit, MAP_CHUNK);
	m->spare = NULL;
	m->chunk = ims__calloc(m->nchunks, sizeof(*m->chunk), "msi_index_map");
	m->used = m->chunk ? ims__calloc(m->nchunks, sizeof(*m->used), "msi_index_map") : NULL;
	return m->used ? 0 : -ENOMEM;
}

static void map_destroy(struct index_map *m)
{
	for (uint32_t i = 0; m->chunk && i < m->nchunks; i++)
		ims__free(m->chunk[i], MAP_CHUNK * sizeof(uint32_t));
	ims__free(m->chunk, m->nchunks * sizeof(*m->chunk));
	ims__free(m->used, m->nchunks * sizeof(*m->used));
	ims__cache_drop(&m->spare);
	m->chunk = NULL;
	m->used = NULL;
}

static uint32_t map_get(const struct index_map *m, uint32_t index)
{
	uint32_t *c = m->chunk[index >> MAP_CHUNK_BITS];

	return c ? c[index & (MAP_CHUNK - 1)] : 0;
}

/* Make sure index can be set; all or nothing. */
static int map_prepare(struct index_map *m, uint32_t index)
{
	uint32_t **c = &m->chunk[index >> MAP_CHUNK_BITS];

	if (!*c)
		*c = ims__cache_take(&m->spare, MAP_CHUNK * sizeof(uint32_t), "msi_index_map");
	return *c ? 0 : -ENOMEM;
}

/* Give an unused chunk back (after a failed prepare's use, or a clear). */
static void map_trim(struct index_map *m, uint32_t index)
{
	uint32_t i = index >> MAP_CHUNK_BITS;

	if (m->chunk[i] && !m->used[i]) {
		ims__cache_put(&m->spare, m->chunk[i], MAP_CHUNK * sizeof(uint32_t));
		m->chunk[i] = NULL;
	}
}

static void map_set(struct index_map *m, uint32_t index, uint32_t irq)
{
	m->chunk[index >> MAP_CHUNK_BITS][index & (MAP_CHUNK - 1)] = irq + 1;
	m->used[index >> MAP_CHUNK_BITS]++;
}

static void map_clear(struct index_map *m, uint32_t index)
{
	uint32_t *c = m->chunk[index >> MAP_CHUNK_BITS];

	if (c && c[index & (MAP_CHUNK - 1)]) {
		c[index & (MAP_CHUNK - 1)] = 0;
		m->used[index >> MAP_CHUNK_BITS]--;
	}
	map_trim(m, index);
}

struct ims_msi_domain {
	struct ims_device *dev;
	enum ims_msi_domain_id domid;
	struct ims_msi_domain_template tmpl;	/* tmpl.chip is the domain's chip */
	void *chip_data;
	uint32_t hwsize;			/* 0: software-managed */
	uint32_t limit;				/* indices are < limit */
	uint64_t *used;				/* index bitmap */
	struct index_map descs;			/* index -> irq */
	uint32_t nr;				/* vectors allocated */
	uint32_t free_hint;			/* no index below it is free */
	uint32_t nr_groups;
	char *name;
	struct ims_irq_domain *domain;
};

struct ims_device {
	/* lock guards domains[] and all state inside them. */
	struct ims_mutex lock;
	char *name;
	struct ims_irq_core *core;
	struct ims_irq_domain *msi_parent;
	uint16_t rid;
	struct ims_msi_domain *domains[IMS_MSI_MAX_DOMAINS];
};

static const char *const type_names[] = { "?", "MSI", "MSI-X", "IMS" };

/* ---- the device domain's irq-domain level ---- */

static struct ims_msi_domain *level_msi_domain(const struct ims_irq_data *d)
{
	return ims_irq_domain_host_data(ims_irq_data_domain(d));
}

/*
 * A device vector is one allocation: its MSI descriptor, then the irq
 * descriptor with its levels. The device domain's own level (level 0) keeps
 * the vector's group and the next index of the group in its 64-bit word.
 */
_Static_assert(sizeof(struct ims_msi_desc) % 8 == 0, "the irq descriptor follows, 8-aligned");

static struct ims_irq_desc *irq_desc_of(struct ims_msi_desc *desc)
{
	return (struct ims_irq_desc *)(desc + 1);
}

static struct ims_msi_desc *msi_desc_of(const struct ims_irq_desc *idesc)
{
	return (struct ims_msi_desc *)(uintptr_t)idesc - 1;
}

static uint32_t group_of(struct ims_msi_desc *desc)
{
	return (uint32_t)irq_desc_of(desc)->data[0].chip_u64;
}

static uint32_t group_next_of(struct ims_msi_desc *desc)
{
	return (uint32_t)(irq_desc_of(desc)->data[0].chip_u64 >> 32);
}

static void set_group(struct ims_msi_desc *desc, uint32_t group, uint32_t next)
{
	irq_desc_of(desc)->data[0].chip_u64 = group | (uint64_t)next << 32;
}

IMS_API struct ims_msi_desc *ims_msi_irq_desc(const struct ims_irq_data *d)
{
	return msi_desc_of(ims__irq_data_desc(d));
}

IMS_API void *ims_msi_domain_chip_data(const struct ims_irq_data *d)
{
	return level_msi_domain(d)->chip_data;
}

IMS_API void *ims_msi_domain_data(const struct ims_irq_domain *d)
{
	struct ims_msi_domain *md = ims_irq_domain_host_data(d);

	return md->chip_data;
}

IMS_API struct ims_device *ims_msi_irq_device(const struct ims_irq_data *d)
{
	return level_msi_domain(d)->dev;
}

static void write_msg(struct ims_irq_data *d, const struct ims_msi_msg *msg)
{
	struct ims_msi_domain *md = level_msi_domain(d);

	md->tmpl.chip.irq_write_msi_msg(d, msg);
}

static int msi_domain_alloc(struct ims_irq_domain *d, unsigned int virq, unsigned int nr, void *arg)
{
	struct ims_msi_alloc_info *info = arg;
	int ret;

	if (IMS_NEVER(nr != 1 || !info || !info->desc))
		return ims__error(-EINVAL, "%s: device domains allocate one vector at a time",
				  ims_irq_domain_name(d));
	ret = ims_irq_domain_alloc_irqs_parent(d, virq, nr, arg);
	if (ret)
		return ret;
	/* The level's word holds the group, set once the vector exists. */
	return ims_irq_domain_set_info(d, virq, info->desc->index, NULL);
}

static void msi_domain_free(struct ims_irq_domain *d, unsigned int virq, unsigned int nr)
{
	ims_irq_domain_free_irqs_parent(d, virq, nr);
}

/* The parents are active: compose their message and store it in the device. */
static int msi_domain_activate(struct ims_irq_domain *d, struct ims_irq_data *irqd, bool reserve)
{
	struct ims_msi_msg msg;
	int ret;

	(void)d;
	(void)reserve;
	ret = ims_irq_chip_compose_msi_msg_parent(irqd, &msg);
	if (ret)
		return ret;
	write_msg(irqd, &msg);
	return 0;
}

static void msi_domain_deactivate(struct ims_irq_domain *d, struct ims_irq_data *irqd)
{
	static const struct ims_msi_msg zero;

	(void)d;
	write_msg(irqd, &zero);
}

static const struct ims_irq_domain_ops msi_domain_ops = {
	.alloc = msi_domain_alloc,
	.free = msi_domain_free,
	.activate = msi_domain_activate,
	.deactivate = msi_domain_deactivate,
};

/*
 * Affinity of a device vector: the parent moves it; if the parent says the
 * message changed (remapping does not: it rewrites only its entry), store
 * the new one in the device.
 */
static int msi_domain_set_affinity(struct ims_irq_data *d, const struct ims_cpumask *mask, bool force)
{
	struct ims_msi_msg msg;
	int ret = ims_irq_chip_set_affinity_parent(d, mask, force);

	if (ret == IMS_SET_AFFINITY_OK && ims_irq_data_is_activated(d) &&
	    !ims_irq_chip_compose_msi_msg_parent(d, &msg))
		write_msg(d, &msg);
	return ret < 0 ? ret : IMS_SET_AFFINITY_DONE;
}

/* ---- devices ---- */

IMS_API int ims_device_create(const struct ims_device_info *info, struct ims_device **out)
{
	struct ims_device *dev;

	if (!info || !out)
		return ims__error(-EINVAL, "device_create: NULL %s", info ? "out" : "info");
	if (!info->name || !info->name[0])
		return ims__error(-EINVAL, "device_create: a device needs a name");
	if (!info->core || !info->msi_parent)
		return ims__error(-EINVAL, "device_create: %s: NULL %s", info->name,
				  info->core ? "msi_parent" : "core");
	if (ims_irq_domain_core(info->msi_parent) != info->core)
		return ims__error(-EINVAL, "device_create: %s: msi_parent %s belongs to another core",
				  info->name, ims_irq_domain_name(info->msi_parent));
	if (!(ims_irq_domain_flags(info->msi_parent) & IMS_IRQ_DOMAIN_FLAG_MSI_PARENT))
		return ims__error(-EINVAL, "device_create: %s: domain %s is not an MSI parent",
				  info->name, ims_irq_domain_name(info->msi_parent));
	dev = ims__zalloc(sizeof(*dev), "msi_device");
	if (!dev)
		return -ENOMEM;
	dev->name = ims__strdup(info->name, "msi_device_name");
	if (!dev->name) {
		ims__free(dev, sizeof(*dev));
		return -ENOMEM;
	}
	dev->core = info->core;
	dev->msi_parent = info->msi_parent;
	dev->rid = info->rid;
	ims__mutex_init(&dev->lock);
	*out = dev;
	return 0;
}

IMS_API const char *ims_device_name(const struct ims_device *dev)
{
	return dev->name;
}

IMS_API uint16_t ims_device_rid(const struct ims_device *dev)
{
	return dev->rid;
}

static struct ims_msi_domain *get_domain_locked(struct ims_device *dev, int domid, const char *what)
{
	ims__assert_mutex_held(&dev->lock);
	if (domid < 0 || domid >= IMS_MSI_MAX_DOMAINS) {
		ims__error(-EINVAL, "%s: %s: no domain id %d", what, dev->name, domid);
		return NULL;
	}
	if (!dev->domains[domid]) {
		ims__error(-ENOENT, "%s: %s has no %s domain", what, dev->name,
			   domid == IMS_MSI_DEFAULT_DOMAIN ? "default (MSI/MSI-X)" : "secondary (IMS)");
		return NULL;
	}
	return dev->domains[domid];
}

static int validate_template(struct ims_device *dev, enum ims_msi_domain_id domid,
			     const struct ims_msi_domain_template *t, uint32_t hwsize)
{
	const struct ims_irq_chip *c;

	if (!t)
		return ims__error(-EINVAL, "msi_create_device_domain: %s: NULL template", dev->name);
	c = &t->chip;
	if (!t->name || !t->name[0])
		return ims__error(-EINVAL, "msi_create_device_domain: %s: template needs a name", dev->name);
	if (t->type < IMS_MSI_TYPE_MSI || t->type > IMS_MSI_TYPE_IMS)
		return ims__error(-EINVAL, "msi_create_device_domain: %s: %s: unknown type %d", dev->name,
				  t->name, (int)t->type);
	if (domid == IMS_MSI_DEFAULT_DOMAIN && t->type == IMS_MSI_TYPE_IMS)
		return ims__error(-EINVAL, "msi_create_device_domain: %s: %s: IMS belongs in the "
				  "secondary domain", dev->name, t->name);
	if (domid == IMS_MSI_SECONDARY_DOMAIN && t->type != IMS_MSI_TYPE_IMS)
		return ims__error(-EINVAL, "msi_create_device_domain: %s: %s: the secondary domain is "
				  "for IMS, not %s", dev->name, t->name, type_names[t->type]);
	if (!c->irq_write_msi_msg)
		return ims__error(-EINVAL, "msi_create_device_domain: %s: chip %s has no "
				  "irq_write_msi_msg", dev->name, t->name);
	if (t->type == IMS_MSI_TYPE_IMS && (!c->irq_mask || !c->irq_unmask))
		return ims__error(-EINVAL, "msi_create_device_domain: %s: IMS chip %s must provide "
				  "irq_mask and irq_unmask", dev->name, t->name);
	if (c->irq_set_affinity)
		return ims__error(-EINVAL, "msi_create_device_domain: %s: chip %s must not provide "
				  "irq_set_affinity: the parent domain moves the interrupt",
				  dev->name, t->name);
	if (t->type == IMS_MSI_TYPE_MSI && (hwsize == 0 || hwsize > 32))
		return ims__error(-EINVAL, "msi_create_device_domain: %s: MSI size %u is not in 1..32",
				  dev->name, hwsize);
	if (t->type == IMS_MSI_TYPE_MSIX && (hwsize == 0 || hwsize > 2048))
		return ims__error(-EINVAL, "msi_create_device_domain: %s: MSI-X size %u is not in "
				  "1..2048", dev->name, hwsize);
	if (t->type == IMS_MSI_TYPE_IMS && hwsize > IMS_MSI_MAX_SOFT_INDEX)
		return ims__error(-EINVAL, "msi_create_device_domain: %s: IMS size %u exceeds %u",
				  dev->name, hwsize, IMS_MSI_MAX_SOFT_INDEX);
	if (t->type == IMS_MSI_TYPE_IMS &&
	    !(ims_irq_domain_flags(dev->msi_parent) & IMS_IRQ_DOMAIN_FLAG_ISOLATED_MSI))
		return ims__error(-EOPNOTSUPP, "msi_create_device_domain: %s: IMS needs interrupt "
				  "remapping, and parent domain %s does not isolate device messages "
				  "(no remapping here, or a virtual remapping unit)", dev->name,
				  ims_irq_domain_name(dev->msi_parent));
	return 0;
}

static void msi_domain_free_struct(struct ims_msi_domain *md)
{
	map_destroy(&md->descs);
	if (md->used)
		ims__free(md->used, IMS_BITMAP_WORDS(md->limit) * sizeof(uint64_t));
	ims__free_str(md->name);
	ims__free(md, sizeof(*md));
}

IMS_API int ims_msi_create_device_domain(struct ims_device *dev, enum ims_msi_domain_id domid,
					 const struct ims_msi_domain_template *tmpl, uint32_t hwsize,
					 void *chip_data)
{
	struct ims_irq_domain_info info = { 0 };
	struct ims_msi_domain *md;
	char name[128];
	int ret;

	if (!dev)
		return ims__error(-EINVAL, "msi_create_device_domain: NULL device");
	if ((int)domid < 0 || domid >= IMS_MSI_MAX_DOMAINS)
		return ims__error(-EINVAL, "msi_create_device_domain: %s: no domain id %d", dev->name,
				  (int)domid);
	ret = validate_template(dev, domid, tmpl, hwsize);
	if (ret)
		return ret;

	ims__mutex_lock(&dev->lock);
	if (dev->domains[domid]) {
		ret = ims__error(-EEXIST, "msi_create_device_domain: %s already has domain %s", dev->name,
				 dev->domains[domid]->name);
		goto unlock;
	}
	ret = -ENOMEM;
	md = ims__zalloc(sizeof(*md), "msi_domain");
	if (!md)
		goto unlock;
	md->dev = dev;
	md->domid = domid;
	md->tmpl = *tmpl;
	md->tmpl.chip.name = tmpl->name;
	md->tmpl.chip.irq_set_affinity = msi_domain_set_affinity;
	md->chip_data = chip_data;
	md->hwsize = hwsize;
	md->limit = hwsize ? hwsize : IMS_MSI_MAX_SOFT_INDEX;
	snprintf(name, sizeof(name), "%s-%s-%s", ims_irq_domain_name(dev->msi_parent), tmpl->name,
		 dev->name);
	md->name = ims__strdup(name, "msi_domain_name");
	if (!md->name)
		goto free_md;
	md->used = ims__calloc(IMS_BITMAP_WORDS(md->limit), sizeof(uint64_t), "msi_domain_used");
	if (!md->used)
		goto free_md;
	ret = map_init(&md->descs, md->limit);
	if (ret)
		goto free_md;
	info.name = md->name;
	info.ops = &msi_domain_ops;
	info.chip = &md->tmpl.chip;
	info.host_data = md;
	info.parent = dev->msi_parent;
	ret = ims_irq_domain_create(dev->core, &info, &md->domain);
	if (ret)
		goto free_md;
	dev->domains[domid] = md;
	ims__mutex_unlock(&dev->lock);
	return 0;

free_md:
	msi_domain_free_struct(md);
unlock:
	ims__mutex_unlock(&dev->lock);
	return ret;
}

IMS_API struct ims_irq_domain *ims_msi_device_domain(struct ims_device *dev, enum ims_msi_domain_id domid)
{
	struct ims_irq_domain *d = NULL;

	if (!dev || (int)domid < 0 || domid >= IMS_MSI_MAX_DOMAINS)
		return NULL;
	ims__mutex_lock(&dev->lock);
	if (dev->domains[domid])
		d = dev->domains[domid]->domain;
	ims__mutex_unlock(&dev->lock);
	return d;
}

static int remove_domain_locked(struct ims_device *dev, enum ims_msi_domain_id domid)
{
	struct ims_msi_domain *md = get_domain_locked(dev, (int)domid, "msi_remove_device_domain");
	int ret;

	if (!md)
		return -ENOENT;
	if (md->nr)
		return ims__error(-EBUSY, "msi_remove_device_domain: %s still has %u vectors", md->name,
				  md->nr);
	ret = ims_irq_domain_remove(md->domain);
	if (ret)
		return ret;
	dev->domains[domid] = NULL;
	msi_domain_free_struct(md);
	return 0;
}

IMS_API int ims_msi_remove_device_domain(struct ims_device *dev, enum ims_msi_domain_id domid)
{
	int ret;

	if (!dev)
		return ims__error(-EINVAL, "msi_remove_device_domain: NULL device");
	ims__mutex_lock(&dev->lock);
	ret = remove_domain_locked(dev, domid);
	ims__mutex_unlock(&dev->lock);
	return ret;
}

/* ---- vectors ---- */

static struct ims_msi_desc *desc_at(struct ims_msi_domain *md, uint32_t index)
{
	uint32_t irq1 = index < md->limit ? map_get(&md->descs, index) : 0;
	struct ims_irq_desc *idesc = irq1 ? ims__irq_to_desc(md->dev->core, irq1 - 1) : NULL;

	return idesc ? msi_desc_of(idesc) : NULL;
}

static bool has_handler(struct ims_device *dev, struct ims_msi_desc *desc)
{
	return ims__irq_has_action(dev->core, desc->irq);
}

static int alloc_one_locked(struct ims_msi_domain *md, uint32_t index, const struct ims_cpumask *aff,
			    union ims_msi_cookie icookie, uint32_t group, struct ims_msi_map *map)
{
	struct ims_device *dev = md->dev;
	struct ims_msi_alloc_info info;
	struct ims_irq_desc *idesc;
	struct ims_msi_desc *desc;
	int ret, virq;

	ims__assert_mutex_held(&dev->lock);
	if (index == IMS_MSI_ANY_INDEX) {
		index = ims__find_next_zero_bit(md->used, md->limit, md->free_hint);
		if (index >= md->limit)
			return ims__error(-ENOSPC, "msi_alloc: %s: all %u indices are in use", md->name,
					  md->limit);
	} else if (index >= md->limit) {
		return ims__error(-EINVAL, "msi_alloc: %s: index %u beyond the domain's size %u",
				  md->name, index, md->limit);
	} else if (ims__test_bit(md->used, index)) {
		return ims__error(-EEXIST, "msi_alloc: %s: index %u is already allocated", md->name,
				  index);
	}
	idesc = ims__irq_desc_new(dev->core, 0, md->domain, sizeof(*desc), false);
	if (!idesc)
		return -ENOMEM;
	atomic_fetch_or_explicit(&idesc->state, IMS_IRQS_OWNED, memory_order_relaxed);
	desc = msi_desc_of(idesc);
	desc->index = index;
	desc->icookie = icookie;
	info.dev = dev;
	info.desc = desc;
	info.rid = dev->rid;
	info.type = (uint8_t)md->tmpl.type;
	if (md->tmpl.prepare_desc) {
		ret = md->tmpl.prepare_desc(md->domain, &info, desc);
		if (ret < 0)
			goto free_desc;
	}
	ret = map_prepare(&md->descs, index);
	if (ret)
		goto undo_prepare;
	virq = ims__irq_domain_alloc_owned(md->domain, idesc, &info, aff);
	if (virq < 0) {
		ret = virq;
		goto unstore;
	}
	desc->irq = (uint32_t)virq;
	map_set(&md->descs, index, (uint32_t)virq);
	set_group(desc, group, 0);
	ims__set_bit(md->used, index);
	if (index == md->free_hint)
		md->free_hint = index + 1;
	md->nr++;
	map->index = (int)index;
	map->virq = virq;
	return 0;

unstore:
	map_trim(&md->descs, index);
undo_prepare:
	if (md->tmpl.prepare_desc && md->tmpl.free_desc)
		md->tmpl.free_desc(md->domain, desc);
free_desc:
	ims__irq_desc_release(dev->core, idesc, sizeof(*desc));
	return ret;
}

/* Free one vector; the caller checked that no handler is installed. */
static int free_one_locked(struct ims_msi_domain *md, struct ims_msi_desc *desc)
{
	uint32_t index = desc->index;
	int ret;

	ims__assert_mutex_held(&md->dev->lock);
	ret = ims_irq_domain_free_irqs(md->dev->core, desc->irq, 1);
	if (ret)
		return ret;
	map_clear(&md->descs, index);
	ims__clear_bit(md->used, index);
	if (index < md->free_hint)
		md->free_hint = index;
	md->nr--;
	if (md->tmpl.free_desc)
		md->tmpl.free_desc(md->domain, desc);
	ims__irq_desc_release(md->dev->core, irq_desc_of(desc), sizeof(*desc));
	return 0;
}

IMS_API struct ims_msi_map ims_msi_alloc_irq_at(struct ims_device *dev, enum ims_msi_domain_id domid,
						uint32_t index, const struct ims_cpumask *affinity,
						union ims_msi_cookie icookie)
{
	struct ims_msi_map map = { -EINVAL, -EINVAL };
	struct ims_msi_domain *md;
	int ret;

	if (!dev) {
		ims__error(-EINVAL, "msi_alloc_irq_at: NULL device");
		return map;
	}
	ims__mutex_lock(&dev->lock);
	md = get_domain_locked(dev, (int)domid, "msi_alloc_irq_at");
	ret = md ? alloc_one_locked(md, index, affinity, icookie, 0, &map) : -ENOENT;
	ims__mutex_unlock(&dev->lock);
	if (ret)
		map.index = map.virq = ret;
	return map;
}

IMS_API int ims_msi_free_irq(struct ims_device *dev, enum ims_msi_domain_id domid, uint32_t index)
{
	struct ims_msi_domain *md;
	struct ims_msi_desc *desc;
	int ret;

	if (!dev)
		return ims__error(-EINVAL, "msi_free_irq: NULL device");
	ims__mutex_lock(&dev->lock);
	md = get_domain_locked(dev, (int)domid, "msi_free_irq");
	if (!md) {
		ret = -ENOENT;
		goto unlock;
	}
	desc = desc_at(md, index);
	if (!desc) {
		ims__warn_once("msi_free_irq: %s: index %u is not allocated (double free?)", md->name,
			       index);
		ret = ims__error(-EINVAL, "msi_free_irq: %s: index %u is not allocated", md->name, index);
		goto unlock;
	}
	if (group_of(desc)) {
		ret = ims__error(-EINVAL, "msi_free_irq: %s: index %u belongs to group %u; free the group",
				 md->name, index, group_of(desc));
		goto unlock;
	}
	if (has_handler(dev, desc)) {
		ret = ims__error(-EBUSY, "msi_free_irq: %s: index %u (irq %u) still has a handler",
				 md->name, index, desc->irq);
		goto unlock;
	}
	ret = free_one_locked(md, desc);
unlock:
	ims__mutex_unlock(&dev->lock);
	return ret;
}

/*
 * Groups are chained through group_next; a group's id is its first index
 * plus one, which no other group can have while it lives.
 */
IMS_API int ims_msi_alloc_group(struct ims_device *dev, enum ims_msi_domain_id domid, unsigned int nvec,
				const struct ims_cpumask *affinity, union ims_msi_cookie icookie,
				struct ims_msi_map *maps)
{
	struct ims_msi_domain *md;
	struct ims_msi_desc *prev = NULL;
	unsigned int i;
	uint32_t group = 0;
	int ret = 0;

	if (!dev || !maps)
		return ims__error(-EINVAL, "msi_alloc_group: NULL %s", dev ? "maps" : "device");
	ims__mutex_lock(&dev->lock);
	md = get_domain_locked(dev, (int)domid, "msi_alloc_group");
	if (!md) {
		ret = -ENOENT;
		goto unlock;
	}
	if (nvec == 0 || nvec > md->limit - md->nr) {
		ret = ims__error(nvec ? -ENOSPC : -EINVAL, "msi_alloc_group: %s: %u vectors requested, "
				 "%u free", md->name, nvec, md->limit - md->nr);
		goto unlock;
	}
	for (i = 0; i < nvec; i++) {
		uint32_t index = ims__find_next_zero_bit(md->used, md->limit, md->free_hint);

		if (!group)
			group = index + 1;
		ret = alloc_one_locked(md, IMS_MSI_ANY_INDEX, affinity, icookie, group, &maps[i]);
		if (ret)
			goto unwind;
		if (prev)
			set_group(prev, group, (uint32_t)maps[i].index + 1);
		prev = desc_at(md, (uint32_t)maps[i].index);
	}
	md->nr_groups++;
	ret = (int)group;
	goto unlock;

unwind:
	while (i--) {
		struct ims_msi_desc *desc = desc_at(md, (uint32_t)maps[i].index);

		if (IMS_ALWAYS(desc) && IMS_NEVER(free_one_locked(md, desc)))
			ims__warn("msi_alloc_group: %s: could not undo index %d", md->name, maps[i].index);
		maps[i].index = maps[i].virq = ret;
	}
unlock:
	ims__mutex_unlock(&dev->lock);
	return ret;
}

static int free_group_locked(struct ims_msi_domain *md, uint32_t group)
{
	struct ims_msi_desc *desc = group ? desc_at(md, group - 1) : NULL;
	uint32_t next;

	if (!desc || group_of(desc) != group) {
		ims__warn_once("msi_free_group: %s: group %u does not exist (double free?)", md->name,
			       group);
		return ims__error(-EINVAL, "msi_free_group: %s: no group %u", md->name, group);
	}
	for (struct ims_msi_desc *d = desc; d; d = group_next_of(d) ? desc_at(md, group_next_of(d) - 1) : NULL)
		if (has_handler(md->dev, d))
			return ims__error(-EBUSY, "msi_free_group: %s: group %u: index %u (irq %u) still "
					  "has a handler", md->name, group, d->index, d->irq);
	while (desc) {
		next = group_next_of(desc);
		if (IMS_NEVER(free_one_locked(md, desc)))
			return -EIO;
		desc = next ? desc_at(md, next - 1) : NULL;
	}
	md->nr_groups--;
	return 0;
}

IMS_API int ims_msi_free_group(struct ims_device *dev, enum ims_msi_domain_id domid, int group)
{
	struct ims_msi_domain *md;
	int ret;

	if (!dev)
		return ims__error(-EINVAL, "msi_free_group: NULL device");
	ims__mutex_lock(&dev->lock);
	md = get_domain_locked(dev, (int)domid, "msi_free_group");
	ret = md ? (group > 0 ? free_group_locked(md, (uint32_t)group)
			      : ims__error(-EINVAL, "msi_free_group: %s: bad group id %d", md->name, group))
		 : -ENOENT;
	ims__mutex_unlock(&dev->lock);
	return ret;
}

/* Free every vector of md; -EBUSY, changing nothing, if one has a handler. */
static int free_all_locked(struct ims_msi_domain *md)
{
	uint32_t i;

	for (i = ims__find_next_bit(md->used, md->limit, 0); i < md->limit;
	     i = ims__find_next_bit(md->used, md->limit, i + 1)) {
		struct ims_msi_desc *desc = desc_at(md, i);

		if (desc && has_handler(md->dev, desc))
			return ims__error(-EBUSY, "%s: index %u (irq %u) still has a handler", md->name, i,
					  desc->irq);
	}
	for (i = ims__find_next_bit(md->used, md->limit, 0); i < md->limit;
	     i = ims__find_next_bit(md->used, md->limit, i + 1)) {
		struct ims_msi_desc *desc = desc_at(md, i);

		if (IMS_NEVER(!desc) || IMS_NEVER(free_one_locked(md, desc)))
			return -EIO;
	}
	md->nr_groups = 0;
	return 0;
}

IMS_API int ims_msi_free_all(struct ims_device *dev, enum ims_msi_domain_id domid)
{
	struct ims_msi_domain *md;
	int ret;

	if (!dev)
		return ims__error(-EINVAL, "msi_free_all: NULL device");
	ims__mutex_lock(&dev->lock);
	md = get_domain_locked(dev, (int)domid, "msi_free_all");
	ret = md ? free_all_locked(md) : -ENOENT;
	ims__mutex_unlock(&dev->lock);
	return ret;
}

/* -EBUSY if any vector of any domain of dev has a handler. */
static int device_busy_locked(struct ims_device *dev)
{
	for (int id = 0; id < IMS_MSI_MAX_DOMAINS; id++) {
		struct ims_msi_domain *md = dev->domains[id];

		if (!md)
			continue;
		for (uint32_t i = ims__find_next_bit(md->used, md->limit, 0); i < md->limit;
		     i = ims__find_next_bit(md->used, md->limit, i + 1)) {
			struct ims_msi_desc *desc = desc_at(md, i);

			if (desc && has_handler(dev, desc))
				return ims__error(-EBUSY, "%s: %s index %u (irq %u) still has a handler",
						  dev->name, md->name, i, desc->irq);
		}
	}
	return 0;
}

IMS_API int ims_device_free_all_irqs(struct ims_device *dev)
{
	int ret;

	if (!dev)
		return ims__error(-EINVAL, "device_free_all_irqs: NULL device");
	ims__mutex_lock(&dev->lock);
	ret = device_busy_locked(dev);
	for (int id = 0; !ret && id < IMS_MSI_MAX_DOMAINS; id++)
		if (dev->domains[id])
			ret = free_all_locked(dev->domains[id]);
	ims__mutex_unlock(&dev->lock);
	return ret;
}

IMS_API int ims_device_destroy(struct ims_device *dev)
{
	int ret;

	if (!dev)
		return 0;
	ims__mutex_lock(&dev->lock);
	ret = device_busy_locked(dev);
	for (int id = 0; !ret && id < IMS_MSI_MAX_DOMAINS; id++) {
		if (!dev->domains[id])
			continue;
		ret = free_all_locked(dev->domains[id]);
		if (!ret)
			ret = remove_domain_locked(dev, (enum ims_msi_domain_id)id);
	}
	ims__mutex_unlock(&dev->lock);
	if (ret)
		return ret;
	ims__mutex_destroy(&dev->lock);
	ims__free_str(dev->name);
	ims__free(dev, sizeof(*dev));
	return 0;
}

IMS_API int ims_msi_index_to_virq(struct ims_device *dev, enum ims_msi_domain_id domid, uint32_t index)
{
	struct ims_msi_domain *md;
	struct ims_msi_desc *desc;
	int ret;

	if (!dev)
		return ims__error(-EINVAL, "msi_index_to_virq: NULL device");
	ims__mutex_lock(&dev->lock);
	md = get_domain_locked(dev, (int)domid, "msi_index_to_virq");
	desc = md ? desc_at(md, index) : NULL;
	ret = desc ? (int)desc->irq
		   : md ? ims__error(-ENOENT, "msi_index_to_virq: %s: index %u is not allocated",
				     md->name, index)
			: -ENOENT;
	ims__mutex_unlock(&dev->lock);
	return ret;
}

IMS_API uint32_t ims_msi_nr_allocated(struct ims_device *dev, enum ims_msi_domain_id domid)
{
	uint32_t n = 0;

	if (!dev || (int)domid < 0 || domid >= IMS_MSI_MAX_DOMAINS)
		return 0;
	ims__mutex_lock(&dev->lock);
	if (dev->domains[domid])
		n = dev->domains[domid]->nr;
	ims__mutex_unlock(&dev->lock);
	return n;
}

int ims__msi_device_check(struct ims_device *dev)
{
	int ret = 0;

	ims__mutex_lock(&dev->lock);
	for (int id = 0; id < IMS_MSI_MAX_DOMAINS; id++) {
		struct ims_msi_domain *md = dev->domains[id];
		uint32_t n = 0, heads = 0;

		if (!md)
			continue;
		for (uint32_t i = 0; i < md->limit; i++) {
			struct ims_msi_desc *desc = desc_at(md, i);

			if (!!desc != ims__test_bit(md->used, i)) {
				ret = ims__error(-EIO, "check: %s: index %u: store and bitmap disagree",
						 md->name, i);
				continue;
			}
			if (!desc)
				continue;
			n++;
			if (desc->index != i)
				ret = ims__error(-EIO, "check: %s: index %u holds index %u", md->name, i,
						 desc->index);
			if (group_of(desc) == i + 1)
				heads++;
		}
		if (n != md->nr)
			ret = ims__error(-EIO, "check: %s: nr %u, recount %u", md->name, md->nr, n);
		if (ims__find_next_zero_bit(md->used, md->limit, 0) < IMS_MIN(md->free_hint, md->limit))
			ret = ims__error(-EIO, "check: %s: a free index lies below the hint %u", md->name,
					 md->free_hint);
		if (heads != md->nr_groups)
			ret = ims__error(-EIO, "check: %s: nr_groups %u, recount %u", md->name,
					 md->nr_groups, heads);
		if (ims_irq_domain_nr_irqs(md->domain) != md->nr)
			ret = ims__error(-EIO, "check: %s: %u vectors but the irq domain has %u", md->name,
					 md->nr, ims_irq_domain_nr_irqs(md->domain));
	}
	ims__mutex_unlock(&dev->lock);
	return ret;
}
