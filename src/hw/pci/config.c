/*
 * Configuration space model: bytes, write masks, write-1-to-clear masks,
 * capability list construction, hooks, BARs and the MMIO regions behind
 * them. See config.h for the contract and docs/pci.md for the rules.
 */
#include <errno.h>
#include <string.h>

#include "hw/pci/config.h"
#include "util/alloc.h"
#include "util/compiler.h"
#include "util/log.h"

struct cfg_hook {
	uint32_t off;
	uint32_t len;
	ims_hw_pci_cfg_hook_fn fn;
	void *ctx;
};

struct bar_map {
	uint64_t off;
	struct ims_hw_mmio_region region;
};

struct hw_bar {
	uint64_t size;			/* 0: not implemented */
	uint32_t flags;			/* IMS_HW_PCI_BAR_* */
	bool upper_half;		/* second dword of a 64-bit BAR */
	unsigned int nr_maps;
	struct bar_map maps[IMS_HW_PCI_BAR_MAX_REGIONS];
};

struct ims_hw_pci_cfg {
	/*
	 * Guards data, wmask, w1c, the capability cursors, hooks and BAR maps.
	 * Hooks and MMIO region callbacks run under it; the capability models'
	 * own locks nest inside it.
	 */
	struct ims_mutex lock;
	uint32_t size;
	uint16_t rid;
	uint16_t last_cap;		/* offset of the last standard cap, 0 if none */
	uint16_t last_ext;		/* offset of the last extended cap, 0 if none */
	uint16_t next_cap;		/* first free dword for a standard cap */
	uint16_t next_ext;		/* first free dword for an extended cap */
	unsigned int nr_hooks;
	struct cfg_hook hooks[IMS_HW_PCI_MAX_HOOKS];
	struct hw_bar bars[IMS_PCI_NR_BARS];
	uint8_t *data;
	uint8_t *wmask;
	uint8_t *w1c;
	uint8_t mem[];			/* data, wmask, w1c: size bytes each */
};

static size_t cfg_alloc_size(uint32_t size)
{
	return sizeof(struct ims_hw_pci_cfg) + 3 * (size_t)size;
}

static uint32_t get_le(const uint8_t *p, uint32_t size)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < size; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static void put_le(uint8_t *p, uint32_t size, uint32_t v)
{
	for (uint32_t i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int ims__hw_pci_cfg_create(const struct ims_hw_pci_cfg_params *p, struct ims_hw_pci_cfg **out)
{
	uint32_t size = p->extended ? IMS_PCI_CFG_EXT_SIZE : IMS_PCI_CFG_SIZE;
	struct ims_hw_pci_cfg *cfg;

	if (p->vendor_id == 0xffff || p->vendor_id == 0)
		return ims__error(-EINVAL, "pci config: vendor id 0x%04x is not a valid vendor",
				  p->vendor_id);
	if (p->class_code > 0xffffff)
		return ims__error(-EINVAL, "pci config: class code 0x%x has more than 24 bits",
				  p->class_code);
	cfg = ims__zalloc(cfg_alloc_size(size), "pci_config");
	if (!cfg)
		return -ENOMEM;
	ims__mutex_init(&cfg->lock);
	cfg->size = size;
	cfg->rid = p->rid;
	cfg->data = cfg->mem;
	cfg->wmask = cfg->mem + size;
	cfg->w1c = cfg->mem + 2 * size;
	cfg->next_cap = IMS_PCI_STD_HEADER_SIZE;
	cfg->next_ext = IMS_PCI_EXT_CAP_START;

	put_le(cfg->data + IMS_PCI_VENDOR_ID, 2, p->vendor_id);
	put_le(cfg->data + IMS_PCI_DEVICE_ID, 2, p->device_id);
	cfg->data[IMS_PCI_REVISION_ID] = p->revision;
	put_le(cfg->data + IMS_PCI_CLASS_CODE, 3, p->class_code);
	cfg->data[IMS_PCI_HEADER_TYPE] = 0;
	put_le(cfg->data + IMS_PCI_SUBSYS_VENDOR_ID, 2, p->subsys_vendor_id);
	put_le(cfg->data + IMS_PCI_SUBSYS_ID, 2, p->subsys_id);

	/* What software may change in a type 0 header; the rest is read-only. */
	put_le(cfg->wmask + IMS_PCI_COMMAND, 2,
	       IMS_PCI_COMMAND_IO | IMS_PCI_COMMAND_MEMORY | IMS_PCI_COMMAND_MASTER |
	       IMS_PCI_COMMAND_PARITY | IMS_PCI_COMMAND_SERR | IMS_PCI_COMMAND_INTX_DISABLE);
	put_le(cfg->w1c + IMS_PCI_STATUS, 2, IMS_PCI_STATUS_W1C);
	cfg->wmask[IMS_PCI_CACHE_LINE_SIZE] = 0xff;
	cfg->wmask[IMS_PCI_LATENCY_TIMER] = 0xff;
	cfg->wmask[IMS_PCI_INTERRUPT_LINE] = 0xff;

	/*
	 * PCIe: an extended space with no capabilities starts with a zero
	 * header at 0x100, which is what calloc left there.
	 */
	*out = cfg;
	return 0;
}

void ims__hw_pci_cfg_destroy(struct ims_hw_pci_cfg *cfg)
{
	if (!cfg)
		return;
	ims__mutex_destroy(&cfg->lock);
	ims__free(cfg, cfg_alloc_size(cfg->size));
}

uint32_t ims__hw_pci_cfg_size(const struct ims_hw_pci_cfg *cfg)
{
	return cfg->size;
}

uint16_t ims__hw_pci_cfg_rid(const struct ims_hw_pci_cfg *cfg)
{
	return cfg->rid;
}

static int check_access(const struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t size,
			const char *what)
{
	if (size != 1 && size != 2 && size != 4)
		return ims__error(-EINVAL, "pci config %s at 0x%x: size %u is not 1, 2 or 4",
				  what, off, size);
	if (off % size)
		return ims__error(-EINVAL, "pci config %s at 0x%x: not aligned to its size %u",
				  what, off, size);
	if (off >= cfg->size || cfg->size - off < size)
		return ims__error(-EINVAL,
				  "pci config %s at 0x%x: outside the %u-byte configuration space",
				  what, off, cfg->size);
	return 0;
}

void ims__hw_pci_cfg_assert_locked(struct ims_hw_pci_cfg *cfg)
{
	ims__assert_mutex_held(&cfg->lock);
	(void)cfg;
}

uint32_t ims__hw_pci_cfg_get_locked(struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t size)
{
	ims__assert_mutex_held(&cfg->lock);
	return get_le(cfg->data + off, size);
}

void ims__hw_pci_cfg_set_locked(struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t size,
				uint32_t val)
{
	ims__assert_mutex_held(&cfg->lock);
	put_le(cfg->data + off, size, val);
}

void ims__hw_pci_cfg_lock(struct ims_hw_pci_cfg *cfg)
{
	ims__mutex_lock(&cfg->lock);
}

void ims__hw_pci_cfg_unlock(struct ims_hw_pci_cfg *cfg)
{
	ims__mutex_unlock(&cfg->lock);
}

int ims__hw_pci_cfg_read(struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t size, uint32_t *val)
{
	int err = check_access(cfg, off, size, "read");

	if (err)
		return err;
	ims__mutex_lock(&cfg->lock);
	*val = get_le(cfg->data + off, size);
	ims__mutex_unlock(&cfg->lock);
	return 0;
}

int ims__hw_pci_cfg_write(struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t size, uint32_t val)
{
	int err = check_access(cfg, off, size, "write");

	if (err)
		return err;
	ims__mutex_lock(&cfg->lock);
	for (uint32_t i = 0; i < size; i++) {
		uint8_t b = (uint8_t)(val >> (8 * i));
		uint8_t *d = &cfg->data[off + i];

		*d = (uint8_t)((*d & ~cfg->wmask[off + i]) | (b & cfg->wmask[off + i]));
		*d = (uint8_t)(*d & ~(b & cfg->w1c[off + i]));
	}
	for (unsigned int h = 0; h < cfg->nr_hooks; h++) {
		const struct cfg_hook *hk = &cfg->hooks[h];

		if (off < hk->off + hk->len && hk->off < off + size)
			hk->fn(hk->ctx, off, size);
	}
	ims__mutex_unlock(&cfg->lock);
	return 0;
}

static int access_read(void *ctx, uint32_t off, uint32_t size, uint32_t *val)
{
	return ims__hw_pci_cfg_read(ctx, off, size, val);
}

static int access_write(void *ctx, uint32_t off, uint32_t size, uint32_t val)
{
	return ims__hw_pci_cfg_write(ctx, off, size, val);
}

void ims__hw_pci_cfg_access(struct ims_hw_pci_cfg *cfg, struct ims_pci_cfg_access *acc)
{
	acc->read = access_read;
	acc->write = access_write;
	acc->ctx = cfg;
	acc->size = cfg->size;
}

void ims__hw_pci_cfg_dump(struct ims_hw_pci_cfg *cfg, uint8_t *buf, uint32_t len)
{
	ims__mutex_lock(&cfg->lock);
	memcpy(buf, cfg->data, IMS_MIN(len, cfg->size));
	ims__mutex_unlock(&cfg->lock);
}

static int poke_mask(struct ims_hw_pci_cfg *cfg, uint8_t *arr, uint32_t off, uint32_t size,
		     uint32_t val, const char *what)
{
	int err = check_access(cfg, off, size, what);

	if (err)
		return err;
	ims__mutex_lock(&cfg->lock);
	put_le(arr + off, size, val);
	ims__mutex_unlock(&cfg->lock);
	return 0;
}

int ims__hw_pci_cfg_poke(struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t size, uint32_t val)
{
	return poke_mask(cfg, cfg->data, off, size, val, "poke");
}

int ims__hw_pci_cfg_set_wmask(struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t size,
			      uint32_t mask)
{
	return poke_mask(cfg, cfg->wmask, off, size, mask, "write mask");
}

int ims__hw_pci_cfg_set_w1c(struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t size,
			    uint32_t mask)
{
	return poke_mask(cfg, cfg->w1c, off, size, mask, "w1c mask");
}

int ims__hw_pci_add_cap(struct ims_hw_pci_cfg *cfg, uint8_t id, uint32_t len, uint16_t *off)
{
	return ims__hw_pci_add_cap_hook(cfg, id, len, NULL, NULL, off);
}

int ims__hw_pci_add_cap_hook(struct ims_hw_pci_cfg *cfg, uint8_t id, uint32_t len,
			     ims_hw_pci_cfg_hook_fn fn, void *ctx, uint16_t *off)
{
	uint32_t at;

	if (len < 2 || len > IMS_PCI_CFG_SIZE - IMS_PCI_STD_HEADER_SIZE)
		return ims__error(-EINVAL, "pci config: capability 0x%02x length %u is invalid",
				  id, len);
	ims__mutex_lock(&cfg->lock);
	at = cfg->next_cap;
	if (at + len > IMS_PCI_CFG_SIZE) {
		ims__mutex_unlock(&cfg->lock);
		return ims__error(-ENOSPC,
				  "pci config: capability 0x%02x (%u bytes) does not fit at 0x%x",
				  id, len, at);
	}
	if (fn && cfg->nr_hooks == IMS_HW_PCI_MAX_HOOKS) {
		ims__mutex_unlock(&cfg->lock);
		return ims__error(-ENOSPC, "pci config: no room for the hook of capability 0x%02x",
				  id);
	}
	if (fn)
		cfg->hooks[cfg->nr_hooks++] = (struct cfg_hook){ at, len, fn, ctx };
	cfg->data[at + IMS_PCI_CAP_ID] = id;
	cfg->data[at + IMS_PCI_CAP_NEXT] = 0;
	if (cfg->last_cap)
		cfg->data[cfg->last_cap + IMS_PCI_CAP_NEXT] = (uint8_t)at;
	else
		cfg->data[IMS_PCI_CAP_PTR] = (uint8_t)at;
	put_le(cfg->data + IMS_PCI_STATUS, 2,
	       get_le(cfg->data + IMS_PCI_STATUS, 2) | IMS_PCI_STATUS_CAP_LIST);
	cfg->last_cap = (uint16_t)at;
	cfg->next_cap = (uint16_t)((at + len + 3) & ~3u);
	ims__mutex_unlock(&cfg->lock);
	*off = (uint16_t)at;
	return 0;
}

int ims__hw_pci_add_ext_cap(struct ims_hw_pci_cfg *cfg, uint16_t id, uint8_t version,
			    uint32_t len, uint16_t *off)
{
	uint32_t at, hdr;

	if (cfg->size < IMS_PCI_CFG_EXT_SIZE)
		return ims__error(-EINVAL,
				  "pci config: extended capability 0x%04x needs a 4096-byte space",
				  id);
	if (len < 4 || len > IMS_PCI_CFG_EXT_SIZE - IMS_PCI_EXT_CAP_START || version > 0xf)
		return ims__error(-EINVAL,
				  "pci config: extended capability 0x%04x length %u or version %u is invalid",
				  id, len, version);
	ims__mutex_lock(&cfg->lock);
	at = cfg->next_ext;
	if (at + len > IMS_PCI_CFG_EXT_SIZE) {
		ims__mutex_unlock(&cfg->lock);
		return ims__error(-ENOSPC,
				  "pci config: extended capability 0x%04x (%u bytes) does not fit at 0x%x",
				  id, len, at);
	}
	put_le(cfg->data + at, 4, id | (uint32_t)version << IMS_PCI_EXT_CAP_VER_SHIFT);
	if (cfg->last_ext) {
		hdr = get_le(cfg->data + cfg->last_ext, 4);
		hdr = (hdr & ~(0xfffu << IMS_PCI_EXT_CAP_NEXT_SHIFT)) |
		      at << IMS_PCI_EXT_CAP_NEXT_SHIFT;
		put_le(cfg->data + cfg->last_ext, 4, hdr);
	}
	cfg->last_ext = (uint16_t)at;
	cfg->next_ext = (uint16_t)((at + len + 3) & ~3u);
	ims__mutex_unlock(&cfg->lock);
	*off = (uint16_t)at;
	return 0;
}

int ims__hw_pci_add_dvsec(struct ims_hw_pci_cfg *cfg, uint16_t vendor, uint8_t revision,
			  uint16_t dvsec_id, uint32_t len, uint16_t *off)
{
	uint16_t at;
	int err;

	if (len < IMS_PCI_DVSEC_HEADER_SIZE || len > 0xfff || revision > 0xf)
		return ims__error(-EINVAL, "pci config: DVSEC length %u or revision %u is invalid",
				  len, revision);
	err = ims__hw_pci_add_ext_cap(cfg, IMS_PCI_EXT_CAP_ID_DVSEC, 1, len, &at);
	if (err)
		return err;
	ims__mutex_lock(&cfg->lock);
	put_le(cfg->data + at + IMS_PCI_DVSEC_HDR1, 4,
	       vendor | (uint32_t)revision << IMS_PCI_DVSEC_HDR1_REV_SHIFT |
	       len << IMS_PCI_DVSEC_HDR1_LEN_SHIFT);
	put_le(cfg->data + at + IMS_PCI_DVSEC_HDR2, 2, dvsec_id);
	ims__mutex_unlock(&cfg->lock);
	*off = at;
	return 0;
}

int ims__hw_pci_cfg_add_hook(struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t len,
			     ims_hw_pci_cfg_hook_fn fn, void *ctx)
{
	int err = 0;

	if (!len || off >= cfg->size || cfg->size - off < len)
		return ims__error(-EINVAL, "pci config: hook range 0x%x+%u is outside the space",
				  off, len);
	ims__mutex_lock(&cfg->lock);
	if (cfg->nr_hooks == IMS_HW_PCI_MAX_HOOKS)
		err = ims__error(-ENOSPC, "pci config: no room for a hook at 0x%x", off);
	else
		cfg->hooks[cfg->nr_hooks++] = (struct cfg_hook){ off, len, fn, ctx };
	ims__mutex_unlock(&cfg->lock);
	return err;
}

void ims__hw_pci_cfg_remove_hook(struct ims_hw_pci_cfg *cfg, ims_hw_pci_cfg_hook_fn fn,
				 void *ctx)
{
	ims__mutex_lock(&cfg->lock);
	for (unsigned int h = 0; h < cfg->nr_hooks; h++) {
		if (cfg->hooks[h].fn == fn && cfg->hooks[h].ctx == ctx) {
			cfg->hooks[h] = cfg->hooks[--cfg->nr_hooks];
			break;
		}
	}
	ims__mutex_unlock(&cfg->lock);
}

int ims__hw_pci_bar_add(struct ims_hw_pci_cfg *cfg, unsigned int bar, uint64_t size,
			uint32_t flags)
{
	bool is64 = flags & IMS_HW_PCI_BAR_64BIT;
	uint32_t off = IMS_PCI_BAR0 + 4 * bar;
	uint32_t type = (is64 ? IMS_PCI_BAR_MEM_TYPE_64 : IMS_PCI_BAR_MEM_TYPE_32) |
			((flags & IMS_HW_PCI_BAR_PREFETCH) ? IMS_PCI_BAR_PREFETCH : 0);
	uint64_t addr_mask = ~(size - 1);

	if (bar >= IMS_PCI_NR_BARS || (is64 && bar + 1 >= IMS_PCI_NR_BARS))
		return ims__error(-EINVAL, "pci BAR %u: no such BAR%s", bar,
				  is64 ? " pair for a 64-bit BAR" : "");
	if (flags & ~(IMS_HW_PCI_BAR_64BIT | IMS_HW_PCI_BAR_PREFETCH))
		return ims__error(-EINVAL, "pci BAR %u: unknown flags 0x%x", bar, flags);
	if (size < 16 || (size & (size - 1)) || (!is64 && size > (1ull << 31)) ||
	    size > (1ull << 62))
		return ims__error(-EINVAL, "pci BAR %u: size 0x%llx is not a power of two in range",
				  bar, (unsigned long long)size);
	ims__mutex_lock(&cfg->lock);
	if (cfg->bars[bar].size || cfg->bars[bar].upper_half ||
	    (is64 && (cfg->bars[bar + 1].size || cfg->bars[bar + 1].upper_half))) {
		ims__mutex_unlock(&cfg->lock);
		return ims__error(-EBUSY, "pci BAR %u: already in use", bar);
	}
	cfg->bars[bar].size = size;
	cfg->bars[bar].flags = flags;
	put_le(cfg->data + off, 4, type);
	put_le(cfg->wmask + off, 4, (uint32_t)addr_mask & IMS_PCI_BAR_MEM_ADDR_MASK);
	if (is64) {
		cfg->bars[bar + 1].upper_half = true;
		put_le(cfg->data + off + 4, 4, 0);
		put_le(cfg->wmask + off + 4, 4, (uint32_t)(addr_mask >> 32));
	}
	ims__mutex_unlock(&cfg->lock);
	return 0;
}

uint64_t ims__hw_pci_bar_size(const struct ims_hw_pci_cfg *cfg, unsigned int bar)
{
	return bar < IMS_PCI_NR_BARS ? cfg->bars[bar].size : 0;
}

int ims__hw_pci_bar_map(struct ims_hw_pci_cfg *cfg, unsigned int bar, uint64_t off,
			const struct ims_hw_mmio_region *region)
{
	struct hw_bar *b;
	int err = 0;

	if (bar >= IMS_PCI_NR_BARS)
		return ims__error(-EINVAL, "pci BAR %u: no such BAR", bar);
	if (!region->ops || !region->size)
		return ims__error(-EINVAL, "pci BAR %u: region at 0x%llx has no ops or size", bar,
				  (unsigned long long)off);
	ims__mutex_lock(&cfg->lock);
	b = &cfg->bars[bar];
	if (!b->size) {
		err = ims__error(-EINVAL, "pci BAR %u: not implemented", bar);
		goto out;
	}
	if (off >= b->size || b->size - off < region->size) {
		err = ims__error(-EINVAL, "pci BAR %u: region %s at 0x%llx (0x%llx bytes) exceeds the BAR (0x%llx)",
				 bar, region->ops->name, (unsigned long long)off,
				 (unsigned long long)region->size, (unsigned long long)b->size);
		goto out;
	}
	for (unsigned int i = 0; i < b->nr_maps; i++) {
		const struct bar_map *m = &b->maps[i];

		if (off < m->off + m->region.size && m->off < off + region->size) {
			err = ims__error(-EBUSY, "pci BAR %u: region %s at 0x%llx overlaps %s at 0x%llx",
					 bar, region->ops->name, (unsigned long long)off,
					 m->region.ops->name, (unsigned long long)m->off);
			goto out;
		}
	}
	if (b->nr_maps == IMS_HW_PCI_BAR_MAX_REGIONS) {
		err = ims__error(-ENOSPC, "pci BAR %u: no room for another region", bar);
		goto out;
	}
	b->maps[b->nr_maps++] = (struct bar_map){ off, *region };
out:
	ims__mutex_unlock(&cfg->lock);
	return err;
}

void ims__hw_pci_bar_unmap(struct ims_hw_pci_cfg *cfg, unsigned int bar, uint64_t off)
{
	struct hw_bar *b;

	if (bar >= IMS_PCI_NR_BARS)
		return;
	ims__mutex_lock(&cfg->lock);
	b = &cfg->bars[bar];
	for (unsigned int i = 0; i < b->nr_maps; i++) {
		if (b->maps[i].off == off) {
			b->maps[i] = b->maps[--b->nr_maps];
			break;
		}
	}
	ims__mutex_unlock(&cfg->lock);
}

static int mmio(struct ims_hw_pci_cfg *cfg, unsigned int bar, uint64_t off, uint32_t size,
		uint64_t *val, bool write)
{
	const char *what = write ? "write" : "read";
	struct hw_bar *b;
	int err;

	if (bar >= IMS_PCI_NR_BARS)
		return ims__error(-EINVAL, "pci mmio %s: no BAR %u", what, bar);
	ims__mutex_lock(&cfg->lock);
	b = &cfg->bars[bar];
	if (!(get_le(cfg->data + IMS_PCI_COMMAND, 2) & IMS_PCI_COMMAND_MEMORY)) {
		err = ims__error(-EIO, "pci mmio %s BAR %u at 0x%llx: memory decode is off", what,
				 bar, (unsigned long long)off);
		goto out;
	}
	for (unsigned int i = 0; i < b->nr_maps; i++) {
		const struct bar_map *m = &b->maps[i];

		if (off >= m->off && off - m->off < m->region.size) {
			err = ims__hw_mmio_access(&m->region, off - m->off, size, val, write);
			goto out;
		}
	}
	err = ims__error(-EINVAL, "pci mmio %s BAR %u at 0x%llx: no region there", what, bar,
			 (unsigned long long)off);
out:
	ims__mutex_unlock(&cfg->lock);
	return err;
}

int ims__hw_pci_mmio_read(struct ims_hw_pci_cfg *cfg, unsigned int bar, uint64_t off,
			  uint32_t size, uint64_t *val)
{
	return mmio(cfg, bar, off, size, val, false);
}

int ims__hw_pci_mmio_write(struct ims_hw_pci_cfg *cfg, unsigned int bar, uint64_t off,
			   uint32_t size, uint64_t val)
{
	return mmio(cfg, bar, off, size, &val, true);
}
