/*
 * The configuration space of one PCI function as hardware holds it: the
 * bytes, a write mask per byte saying which bits software may change, a
 * write-1-to-clear mask for the status bits, the capability lists built by
 * the device model, and up to six memory BARs, each decoding to MMIO
 * regions. Software (the OS side, a guest) reaches it only through
 * ims__hw_pci_cfg_read/write and ims__hw_pci_mmio_read/write; the device
 * model behind it uses the _locked and poke helpers.
 *
 * Capability models (MSI, MSI-X) hook a range of the space: after a write
 * touching that range has been applied through the masks, the hook runs
 * with the config lock held and reacts (enable, mask transitions).
 */
#ifndef IMS_HW_PCI_CONFIG_H
#define IMS_HW_PCI_CONFIG_H

#include <ims/pci.h>
#include <stdbool.h>
#include <stdint.h>

#include "hw/mmio.h"
#include "util/lock.h"

#define IMS_HW_PCI_MAX_HOOKS 8
#define IMS_HW_PCI_BAR_MAX_REGIONS 8

/* BAR flags for ims__hw_pci_bar_add(). */
#define IMS_HW_PCI_BAR_64BIT		0x1u
#define IMS_HW_PCI_BAR_PREFETCH		0x2u

struct ims_hw_pci_cfg_params {
	uint16_t vendor_id;
	uint16_t device_id;
	uint8_t revision;
	uint32_t class_code;	/* 24 bits */
	uint16_t subsys_vendor_id;
	uint16_t subsys_id;
	uint16_t rid;		/* requester id of the function's memory writes */
	bool extended;		/* 4096 bytes with extended space, else 256 */
};

/*
 * Called after a software write touching [off, off + len) of the hook's
 * range has been applied. Runs with the config lock held.
 */
typedef void (*ims_hw_pci_cfg_hook_fn)(void *ctx, uint32_t off, uint32_t size);

struct ims_hw_pci_cfg;

int ims__hw_pci_cfg_create(const struct ims_hw_pci_cfg_params *p, struct ims_hw_pci_cfg **out);
void ims__hw_pci_cfg_destroy(struct ims_hw_pci_cfg *cfg);
uint32_t ims__hw_pci_cfg_size(const struct ims_hw_pci_cfg *cfg);
uint16_t ims__hw_pci_cfg_rid(const struct ims_hw_pci_cfg *cfg);

/*
 * Software access: size 1, 2 or 4, naturally aligned, inside the space.
 * -EINVAL with a message naming the offset otherwise, changing nothing.
 * A write changes only the bits the write mask allows, clears the
 * write-1-to-clear bits written as 1, then runs the hooks it touches.
 */
/* Context: takes the config lock; hooks run under it. Any thread. */
int ims__hw_pci_cfg_read(struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t size, uint32_t *val);
int ims__hw_pci_cfg_write(struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t size, uint32_t val);

/* An accessor for the OS-side PCI core, reading and writing as software. */
void ims__hw_pci_cfg_access(struct ims_hw_pci_cfg *cfg, struct ims_pci_cfg_access *acc);

/* Copy the whole space out (a dump, as lspci -xxxx gives). */
void ims__hw_pci_cfg_dump(struct ims_hw_pci_cfg *cfg, uint8_t *buf, uint32_t len);

/*
 * Device-model side. The config lock guards the bytes and masks; capability
 * models take it to read their registers and run under it in hooks.
 */
void ims__hw_pci_cfg_lock(struct ims_hw_pci_cfg *cfg);
void ims__hw_pci_cfg_unlock(struct ims_hw_pci_cfg *cfg);
void ims__hw_pci_cfg_assert_locked(struct ims_hw_pci_cfg *cfg);
uint32_t ims__hw_pci_cfg_get_locked(struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t size);
void ims__hw_pci_cfg_set_locked(struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t size,
				uint32_t val);

/* Raw set of value and masks, ignoring the write mask (model setup). */
int ims__hw_pci_cfg_poke(struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t size, uint32_t val);
int ims__hw_pci_cfg_set_wmask(struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t size,
			      uint32_t mask);
int ims__hw_pci_cfg_set_w1c(struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t size,
			    uint32_t mask);

/*
 * Add a standard capability of len bytes (header included): placed at the
 * next free dword from 0x40, linked at the end of the list, status bit 4
 * set. Returns its offset in *off; -ENOSPC when it does not fit.
 */
int ims__hw_pci_add_cap(struct ims_hw_pci_cfg *cfg, uint8_t id, uint32_t len, uint16_t *off);
/*
 * Same, with fn hooked on the whole capability: both or neither, so that a
 * capability model never leaves a capability without its behaviour.
 */
int ims__hw_pci_add_cap_hook(struct ims_hw_pci_cfg *cfg, uint8_t id, uint32_t len,
			     ims_hw_pci_cfg_hook_fn fn, void *ctx, uint16_t *off);
/* Same for an extended capability, from 0x100; -EINVAL on a 256-byte space. */
int ims__hw_pci_add_ext_cap(struct ims_hw_pci_cfg *cfg, uint16_t id, uint8_t version,
			    uint32_t len, uint16_t *off);
/* A DVSEC of len bytes (at least 0xA) with its two headers filled in. */
int ims__hw_pci_add_dvsec(struct ims_hw_pci_cfg *cfg, uint16_t vendor, uint8_t revision,
			  uint16_t dvsec_id, uint32_t len, uint16_t *off);

/* Run fn after software writes touching [off, off + len); -ENOSPC if full. */
int ims__hw_pci_cfg_add_hook(struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t len,
			     ims_hw_pci_cfg_hook_fn fn, void *ctx);
/* Remove the hook added with fn and ctx (a capability model going away). */
void ims__hw_pci_cfg_remove_hook(struct ims_hw_pci_cfg *cfg, ims_hw_pci_cfg_hook_fn fn,
				 void *ctx);

/*
 * A memory BAR of size bytes (a power of two, at least 16). A 64-bit BAR
 * also takes bar + 1. Its write mask makes size probing work as on
 * hardware: writing all ones reads back ~(size - 1) with the type bits.
 */
int ims__hw_pci_bar_add(struct ims_hw_pci_cfg *cfg, unsigned int bar, uint64_t size,
			uint32_t flags);
uint64_t ims__hw_pci_bar_size(const struct ims_hw_pci_cfg *cfg, unsigned int bar);
/* Decode [off, off + region size) of the BAR to region; no overlaps. */
int ims__hw_pci_bar_map(struct ims_hw_pci_cfg *cfg, unsigned int bar, uint64_t off,
			const struct ims_hw_mmio_region *region);
/* Stop decoding the region mapped at off (its model is going away). */
void ims__hw_pci_bar_unmap(struct ims_hw_pci_cfg *cfg, unsigned int bar, uint64_t off);

/*
 * Software MMIO access to a BAR at an offset. -EIO while memory decode
 * (command bit 1) is off; -EINVAL for an offset no region decodes or an
 * access size or alignment the region refuses.
 */
/*
 * Context: takes the config lock and runs the region's callback under it,
 * so a region is never unmapped under a running access. Any thread.
 */
int ims__hw_pci_mmio_read(struct ims_hw_pci_cfg *cfg, unsigned int bar, uint64_t off,
			  uint32_t size, uint64_t *val);
int ims__hw_pci_mmio_write(struct ims_hw_pci_cfg *cfg, unsigned int bar, uint64_t off,
			   uint32_t size, uint64_t val);

#endif
