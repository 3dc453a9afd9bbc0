/*
 * ims/x86.h - the x86 platform: the MSI message formats (compatibility and
 * remappable), their compose and decode, and the vector domain that sits at
 * the root of the interrupt domain hierarchy and hands out (CPU, vector)
 * pairs.
 *
 * Formats follow the Intel SDM (compatibility format) and the VT-d
 * specification (remappable format); docs/x86.md describes both.
 */
#ifndef IMS_X86_H
#define IMS_X86_H

#include <stdio.h>

#include <ims/irqdomain.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Address and data fields shared by both formats. */
#define IMS_X86_MSI_ADDR_BASE		0xfee00000u	/* bits 31:20 */
#define IMS_X86_MSI_ADDR_BASE_MASK	0xfff00000u
#define IMS_X86_MSI_ADDR_REMAP		(1u << 4)	/* interrupt format */

/* Compatibility format. */
#define IMS_X86_MSI_ADDR_DEST_SHIFT	12		/* bits 19:12 */
#define IMS_X86_MSI_ADDR_DEST_MASK	0x000ff000u
#define IMS_X86_MSI_ADDR_EXT_DEST_SHIFT	5		/* bits 11:5 = APIC ID 14:8 */
#define IMS_X86_MSI_ADDR_EXT_DEST_MASK	0x00000fe0u
#define IMS_X86_MSI_ADDR_RH		(1u << 3)	/* redirection hint */
#define IMS_X86_MSI_ADDR_LOGICAL	(1u << 2)	/* destination mode */
#define IMS_X86_MSI_DATA_VECTOR_MASK	0x000000ffu
#define IMS_X86_MSI_DATA_DM_SHIFT	8		/* bits 10:8 */
#define IMS_X86_MSI_DATA_DM_MASK	0x00000700u
#define IMS_X86_MSI_DATA_RSVD_MASK	0xffff3800u	/* bits 31:16 and 13:11 */
#define IMS_X86_MSI_DATA_LEVEL_ASSERT	(1u << 14)
#define IMS_X86_MSI_DATA_TRIGGER_LEVEL	(1u << 15)

/* Remappable format. */
#define IMS_X86_MSI_ADDR_HANDLE_SHIFT	5		/* bits 19:5 = handle 14:0 */
#define IMS_X86_MSI_ADDR_HANDLE_MASK	0x000fffe0u
#define IMS_X86_MSI_ADDR_SHV		(1u << 3)	/* subhandle valid */
#define IMS_X86_MSI_ADDR_HANDLE15	(1u << 2)	/* handle bit 15 */
#define IMS_X86_MSI_DATA_SUBHANDLE_MASK	0x0000ffffu
#define IMS_X86_MSI_DATA_REMAP_RSVD	0xffff0000u

/* The largest APIC ID a compatibility message can name with extended IDs. */
#define IMS_X86_MAX_EXT_APIC_ID		0x7fffu

enum ims_x86_msi_format {
	IMS_X86_MSI_COMPAT = 0,
	IMS_X86_MSI_REMAPPABLE = 1,
};

/* Delivery modes (data bits 10:8); 3 and 6 are reserved. */
enum ims_x86_delivery_mode {
	IMS_X86_DM_FIXED = 0,
	IMS_X86_DM_LOWEST = 1,
	IMS_X86_DM_SMI = 2,
	IMS_X86_DM_NMI = 4,
	IMS_X86_DM_INIT = 5,
	IMS_X86_DM_EXTINT = 7,
};

/*
 * Every field of an x86 MSI message. Which members mean something depends
 * on format; the others are zero after decode and ignored by compose.
 */
struct ims_x86_msi_fields {
	enum ims_x86_msi_format format;
	/* Compatibility format. */
	uint32_t dest_id;		/* address bits 19:12 */
	uint32_t ext_dest_id;		/* address bits 11:5 (APIC ID bits 14:8) */
	uint32_t apic_id;		/* ext_dest_id << 8 | dest_id */
	bool dest_logical;
	bool redirection_hint;
	uint8_t vector;
	uint8_t delivery_mode;		/* enum ims_x86_delivery_mode */
	bool trigger_level;
	bool level_assert;
	/* Remappable format. */
	uint16_t handle;		/* 16 bits */
	bool shv;
	uint16_t subhandle;		/* data bits 15:0, when shv */
	uint32_t index;			/* remapping table index: handle (+ subhandle) */
};

/*
 * Compose a message from its fields. Compatibility: apic_id is used (its
 * bits 14:8 go to the extended destination field; bits above 14 are
 * refused); dest_id and ext_dest_id are ignored. Remappable: handle, shv and
 * subhandle. -EINVAL, naming the field, for a value that does not fit.
 */
IMS_API int ims_x86_msi_compose(const struct ims_x86_msi_fields *f, struct ims_msi_msg *msg);

/*
 * Decode a message into its fields. -EINVAL, naming the field, for a
 * message that is not an x86 interrupt message: address high word not 0,
 * address bits 31:20 not 0xFEE, a reserved delivery mode, reserved data
 * bits set. out is filled only on success.
 */
IMS_API int ims_x86_msi_decode(const struct ims_msi_msg *msg, struct ims_x86_msi_fields *out);

/* Name of a delivery mode ("fixed", "lowest", ..., "reserved"). */
IMS_API const char *ims_x86_delivery_mode_name(unsigned int dm);

/* ---- the vector domain ---- */

/*
 * How the OS side reaches a CPU's local APIC: 32-bit register reads and
 * writes at the xAPIC offsets (ID 0x20, TPR 0x80, PPR 0xA0, EOI 0xB0, SVR
 * 0xF0, ISR 0x100.., IRR 0x200.., eight words 0x10 apart). A simulated
 * machine points these at its APIC models; KVM at KVM_GET/SET_LAPIC.
 * Called from any thread, with the vector domain's lock held or from
 * dispatch.
 */
struct ims_x86_apic_ops {
	uint32_t (*read)(void *ctx, uint32_t cpu, uint32_t reg);
	void (*write)(void *ctx, uint32_t cpu, uint32_t reg, uint32_t val);
};

#define IMS_X86_APIC_ID		0x020u
#define IMS_X86_APIC_TPR	0x080u
#define IMS_X86_APIC_PPR	0x0a0u
#define IMS_X86_APIC_EOI	0x0b0u
#define IMS_X86_APIC_SVR	0x0f0u
#define IMS_X86_APIC_ISR	0x100u
#define IMS_X86_APIC_IRR	0x200u

enum {
	/*
	 * The platform takes APIC ID bits 14:8 in address bits 11:5 of a
	 * compatibility message (KVM does); else APIC IDs above 255 cannot
	 * be named and CPUs with such IDs get no device vectors.
	 */
	IMS_X86_VECTOR_EXT_DEST_ID = 1u << 0,
};

struct ims_x86_vector_config {
	uint32_t nr_cpus;		/* must equal the core's CPU count */
	const uint32_t *apic_ids;	/* CPU index -> APIC ID; NULL: the index */
	uint32_t flags;			/* IMS_X86_VECTOR_* */
	uint32_t first_system_vector;	/* 0x40..0x100; 0: 0xec */
	const struct ims_x86_apic_ops *apic;	/* required */
	void *apic_ctx;
};

struct ims_x86_vector_domain;

/*
 * Create the vector domain, the root of the x86 hierarchy ("x86-vector").
 * It software-enables every CPU's local APIC (SVR) and sets TPR to 0, as
 * the OS does at boot. Per irq it keeps 8 bytes (in ims_irq_data.chip_u64);
 * per CPU a 256-entry vector table.
 *
 * alloc reserves (no vector yet); activate assigns a (CPU, vector) within
 * the irq's affinity (any online CPU if the affinity has none online);
 * deactivate gives it back; compose makes the compatibility message
 * (physical destination, fixed, edge). set_affinity moves the irq to a new
 * (CPU, vector) that is live before the levels above write the new
 * message; the old one keeps reaching the irq until the first interrupt
 * arrives on the new one and the old CPU has nothing pending on the old
 * vector, and is freed then. While such a move is in progress a further
 * move is refused with -EBUSY.
 */
IMS_API int ims_x86_vector_domain_create(struct ims_irq_core *core,
					 const struct ims_x86_vector_config *cfg,
					 struct ims_x86_vector_domain **out);
/* -EBUSY, changing nothing, while the domain has irqs or children. */
IMS_API int ims_x86_vector_domain_destroy(struct ims_x86_vector_domain *vd);
IMS_API struct ims_irq_domain *ims_x86_vector_irq_domain(struct ims_x86_vector_domain *vd);

/*
 * The CPU's interrupt entry: vector was accepted from cpu's local APIC.
 * Runs the flow of the irq that owns (cpu, vector), or the system vector
 * handler; writes EOI to the APIC unless the flow already did. A vector
 * with no owner is counted spurious on that CPU (-ENOENT). Lock-free; may
 * run on any thread, one thread per CPU at a time.
 */
IMS_API int ims_x86_vector_dispatch(struct ims_x86_vector_domain *vd, uint32_t cpu, uint8_t vector);

/*
 * Handler of a system vector (first_system_vector..0xff) on every CPU,
 * such as a posted-interrupt notification. NULL removes it.
 */
typedef void (*ims_x86_sysvec_fn)(void *ctx, uint32_t cpu, uint8_t vector);
IMS_API int ims_x86_vector_set_system_handler(struct ims_x86_vector_domain *vd, uint8_t vector,
					      ims_x86_sysvec_fn fn, void *ctx);

/*
 * Free the old vectors of finished moves, and deactivated vectors whose
 * interrupts the APIC no longer holds. Runs on its own at every
 * set_affinity; a CPU's idle loop may call it too. Returns how many old
 * vectors are still held.
 */
IMS_API int ims_x86_vector_cleanup(struct ims_x86_vector_domain *vd);

/*
 * Where the irq's level in this domain points now: CPU, APIC ID and
 * vector. For remapping drivers, whose entries carry 32-bit APIC IDs that
 * a compatibility message cannot. -ENODATA if not activated.
 */
IMS_API int ims_x86_vector_target(const struct ims_irq_data *d, uint32_t *cpu, uint32_t *apic_id,
				  uint8_t *vector);

/*
 * Take a CPU out of service: every irq with a vector on it is moved to
 * another online CPU of its affinity (or of the machine, when its affinity
 * has no other), then the CPU is taken offline in the matrix. -EBUSY if old
 * vectors of those moves are still held (call again once their interrupts
 * have landed); the CPU then stays online. An activation that races with
 * the moves may land on the CPU: that too gives -EBUSY, and a retry moves
 * it.
 */
IMS_API int ims_x86_vector_cpu_offline(struct ims_x86_vector_domain *vd, uint32_t cpu);
IMS_API int ims_x86_vector_cpu_online(struct ims_x86_vector_domain *vd, uint32_t cpu);

struct ims_x86_vector_stats {
	uint64_t available;		/* device vectors free on online CPUs */
	uint64_t allocated;		/* vectors held by irqs (old ones included) */
	uint64_t reserved;		/* irqs allocated but not activated */
	uint64_t system;
	uint32_t online_cpus;
	uint32_t moves_in_progress;	/* old vectors waiting for cleanup */
	uint64_t moves_started;
	uint64_t moves_done;
	uint64_t spurious;		/* vectors with no owner, all CPUs */
	uint64_t dispatched;		/* vectors dispatched to an irq, all CPUs */
};
IMS_API void ims_x86_vector_get_stats(struct ims_x86_vector_domain *vd, struct ims_x86_vector_stats *out);
/* Spurious vectors counted on one CPU. */
IMS_API uint64_t ims_x86_vector_spurious(struct ims_x86_vector_domain *vd, uint32_t cpu);
/* Text dump: the matrix with every counter, then each CPU's vector table. */
IMS_API void ims_x86_vector_dump(struct ims_x86_vector_domain *vd, FILE *f);
/* Recount the matrix and compare with the vector tables; 0 or -EIO. */
IMS_API int ims_x86_vector_check(struct ims_x86_vector_domain *vd);

#ifdef __cplusplus
}
#endif
#endif
