/*
 * KVM backend, low level; see kvm.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "backend/kvm.h"
#include "util/alloc.h"
#include "util/bitmap.h"
#include "util/compiler.h"
#include "util/log.h"

#define APIC_SVR 0xf0
#define APIC_IRR 0x200
#define KVM_GSI_BASE 24			/* above the in-kernel IOAPIC's pins */

struct kvm_route {
	uint32_t addr_lo, addr_hi, data;
	int efd;			/* irqfd's eventfd, -1 if none */
};

struct ims_kvm {
	int sys_fd, vm_fd;
	uint32_t nr_vcpus;
	int *vcpu_fd;
	/*
	 * lock serializes messages sent by this backend with acceptance
	 * (get-modify-set of the LAPIC state) and guards the route table.
	 */
	pthread_mutex_t lock;
	uint64_t route_map[IMS_BITMAP_WORDS(IMS_KVM_MAX_ROUTES)];
	struct kvm_route *routes;
	uint32_t nr_routes;
	bool routes_dirty;
	uint64_t pushes;
};

_Thread_local struct ims_kvm_outbox ims__kvm_outbox __attribute__((tls_model("initial-exec")));

static int set_svr(struct ims_kvm *k, uint32_t vcpu)
{
	struct kvm_lapic_state st;
	uint32_t svr;

	if (ioctl(k->vcpu_fd[vcpu], KVM_GET_LAPIC, &st) < 0)
		return -errno;
	memcpy(&svr, st.regs + APIC_SVR, 4);
	svr |= 0x1ff;			/* software enable, spurious vector 0xff */
	memcpy(st.regs + APIC_SVR, &svr, 4);
	if (ioctl(k->vcpu_fd[vcpu], KVM_SET_LAPIC, &st) < 0)
		return -errno;
	return 0;
}

int ims__kvm_create(uint32_t nr_vcpus, const uint32_t *apic_ids, struct ims_kvm **out)
{
	struct ims_kvm *k;
	uint32_t i;
	int ret;

	if (!nr_vcpus || nr_vcpus > 254 || !apic_ids || !out)
		return ims__error(-EINVAL, "kvm: %u vCPUs is not in 1..254", nr_vcpus);
	for (i = 0; i < nr_vcpus; i++)
		if (apic_ids[i] >= 255)
			return ims__error(-EINVAL, "kvm: APIC ID %u of CPU %u needs x2APIC", apic_ids[i], i);
	k = ims__zalloc(sizeof(*k), "kvm");
	if (!k)
		return -ENOMEM;
	k->vcpu_fd = ims__calloc(nr_vcpus, sizeof(int), "kvm_vcpus");
	k->routes = ims__calloc(IMS_KVM_MAX_ROUTES, sizeof(*k->routes), "kvm_routes");
	if (!k->vcpu_fd || !k->routes) {
		ret = -ENOMEM;
		goto free;
	}
	for (i = 0; i < nr_vcpus; i++)
		k->vcpu_fd[i] = -1;
	k->vm_fd = -1;
	k->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (k->sys_fd < 0) {
		ret = ims__error(-ENODEV, "kvm: cannot open /dev/kvm: %s", strerror(errno));
		goto free;
	}
	if (ioctl(k->sys_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		ret = ims__error(-ENODEV, "kvm: unexpected KVM API version");
		goto close;
	}
	k->vm_fd = ioctl(k->sys_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0) {
		ret = ims__error(-ENODEV, "kvm: KVM_CREATE_VM failed: %s", strerror(errno));
		goto close;
	}
	if (ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		ret = ims__error(-ENODEV, "kvm: KVM_CREATE_IRQCHIP failed: %s", strerror(errno));
		goto close;
	}
	k->nr_vcpus = nr_vcpus;
	for (i = 0; i < nr_vcpus; i++) {
		k->vcpu_fd[i] = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)apic_ids[i]);
		if (k->vcpu_fd[i] < 0) {
			ret = ims__error(-ENODEV, "kvm: KVM_CREATE_VCPU %u failed: %s", apic_ids[i],
					 strerror(errno));
			goto close;
		}
		ret = set_svr(k, i);
		if (ret) {
			ims__error(-ENODEV, "kvm: cannot enable the LAPIC of vCPU %u: %s", i, strerror(-ret));
			ret = -ENODEV;
			goto close;
		}
	}
	for (i = 0; i < IMS_KVM_MAX_ROUTES; i++)
		k->routes[i].efd = -1;
	pthread_mutex_init(&k->lock, NULL);
	*out = k;
	return 0;

close:
	for (i = 0; i < nr_vcpus; i++)
		if (k->vcpu_fd[i] >= 0)
			close(k->vcpu_fd[i]);
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->sys_fd >= 0)
		close(k->sys_fd);
free:
	ims__free(k->routes, IMS_KVM_MAX_ROUTES * sizeof(*k->routes));
	ims__free(k->vcpu_fd, nr_vcpus * sizeof(int));
	ims__free(k, sizeof(*k));
	return ret;
}

void ims__kvm_destroy(struct ims_kvm *k)
{
	uint32_t i;

	if (!k)
		return;
	ims__kvm_flush();
	for (i = 0; i < IMS_KVM_MAX_ROUTES; i++)
		if (k->routes[i].efd >= 0)
			close(k->routes[i].efd);
	for (i = 0; i < k->nr_vcpus; i++)
		close(k->vcpu_fd[i]);
	close(k->vm_fd);
	close(k->sys_fd);
	pthread_mutex_destroy(&k->lock);
	ims__free(k->routes, IMS_KVM_MAX_ROUTES * sizeof(*k->routes));
	ims__free(k->vcpu_fd, k->nr_vcpus * sizeof(int));
	ims__free(k, sizeof(*k));
}

int ims__kvm_signal_failed(int err)
{
	return ims__error(-err, "kvm: KVM_SIGNAL_MSI: %s", strerror(err));
}

static int signal_locked(struct ims_kvm *k, uint32_t lo, uint32_t hi, uint32_t data)
{
	struct kvm_msi msi = { .address_lo = lo, .address_hi = hi, .data = data };
	int ret = ioctl(k->vm_fd, KVM_SIGNAL_MSI, &msi);

	return ret < 0 ? ims__kvm_signal_failed(errno) : ret;
}

int ims__kvm_signal_msi(struct ims_kvm *k, uint32_t addr_lo, uint32_t addr_hi, uint32_t data)
{
	int ret;

	ims__kvm_flush();
	pthread_mutex_lock(&k->lock);
	ret = signal_locked(k, addr_lo, addr_hi, data);
	pthread_mutex_unlock(&k->lock);
	return ret;
}

/* The compatibility-format message of a remapped interrupt. */
static inline uint32_t compose_addr(const struct ims_hw_apic_irq *irq)
{
	return 0xfee00000u | ((irq->dest & 0xff) << 12) | ((irq->dest >> 8 & 0x7f) << 5) |
	       (irq->redirection_hint ? 1u << 3 : 0) | (irq->dest_logical ? 1u << 2 : 0);
}

static inline uint32_t compose_data(const struct ims_hw_apic_irq *irq)
{
	return irq->vector | ((uint32_t)irq->delivery_mode << 8) | (irq->level_assert ? 1u << 14 : 0) |
	       (irq->level_trigger ? 1u << 15 : 0);
}

int ims__kvm_apic_sink(void *ctx, const struct ims_hw_apic_irq *irq)
{
	return ims__kvm_signal_msi(ctx, compose_addr(irq), 0, compose_data(irq));
}

/* A thread that posted signals what it left queued when it exits. */
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static int exit_key_err;

static void exit_flush(void *arg)
{
	(void)arg;
	ims__kvm_flush();
}

static void exit_key_make(void)
{
	exit_key_err = pthread_key_create(&exit_key, exit_flush);
}

/* false where the thread's exit cannot be hooked: then nothing is queued. */
static bool arm_exit_flush(struct ims_kvm_outbox *o)
{
	pthread_once(&exit_once, exit_key_make);
	if (exit_key_err || pthread_setspecific(exit_key, o))
		return false;
	o->armed = true;
	return true;
}

/* 1: posted (how many vCPUs take it is known when it is signalled); or a
 * negative errno of the messages a full queue had to signal first. */
int ims__kvm_apic_sink_posted(void *ctx, const struct ims_hw_apic_irq *irq)
{
	struct ims_kvm *k = ctx;
	struct ims_kvm_outbox *o = &ims__kvm_outbox;
	int ret = 0;

	if (ims_unlikely(!o->armed) && !arm_exit_flush(o))
		return ims__kvm_apic_sink(ctx, irq);	/* not queued: sent now */
	if (ims_unlikely(o->n == IMS_KVM_POSTED))
		ret = ims__kvm_flush();
	o->msg[o->n++] = (struct ims_kvm_posted){ &k->lock, k->vm_fd, compose_addr(irq), compose_data(irq) };
	return ret < 0 ? ret : 1;
}

uint32_t ims__kvm_posted(void)
{
	return ims__kvm_outbox.n;
}

static int get_irr_locked(struct ims_kvm *k, uint32_t vcpu, struct kvm_lapic_state *st, uint64_t irr[4])
{
	uint32_t w;

	if (ioctl(k->vcpu_fd[vcpu], KVM_GET_LAPIC, st) < 0)
		return ims__error(-errno, "kvm: KVM_GET_LAPIC of vCPU %u: %s", vcpu, strerror(errno));
	memset(irr, 0, 4 * sizeof(uint64_t));
	for (w = 0; w < 8; w++) {
		uint32_t v;

		memcpy(&v, st->regs + APIC_IRR + w * 16, 4);
		irr[w / 2] |= (uint64_t)v << (32 * (w % 2));
	}
	return 0;
}

int ims__kvm_irr(struct ims_kvm *k, uint32_t vcpu, uint64_t irr[4])
{
	struct kvm_lapic_state st;
	int ret;

	ims__kvm_flush();
	if (vcpu >= k->nr_vcpus)
		return ims__error(-EINVAL, "kvm: no vCPU %u", vcpu);
	pthread_mutex_lock(&k->lock);
	ret = get_irr_locked(k, vcpu, &st, irr);
	pthread_mutex_unlock(&k->lock);
	return ret;
}

int ims__kvm_accept(struct ims_kvm *k, uint32_t vcpu)
{
	struct kvm_lapic_state st;
	uint64_t irr[4];
	uint32_t word;
	int ret, v = -1, i;

	ims__kvm_flush();
	if (vcpu >= k->nr_vcpus)
		return ims__error(-EINVAL, "kvm: no vCPU %u", vcpu);
	pthread_mutex_lock(&k->lock);
	ret = get_irr_locked(k, vcpu, &st, irr);
	if (ret)
		goto out;
	for (i = 3; i >= 0 && v < 0; i--)
		if (irr[i])
			v = i * 64 + 63 - __builtin_clzll(irr[i]);
	if (v < 0) {
		ret = -ENOENT;
		goto out;
	}
	memcpy(&word, st.regs + APIC_IRR + (v / 32) * 16, 4);
	word &= ~(1u << (v % 32));
	memcpy(st.regs + APIC_IRR + (v / 32) * 16, &word, 4);
	if (ioctl(k->vcpu_fd[vcpu], KVM_SET_LAPIC, &st) < 0) {
		ret = ims__error(-errno, "kvm: KVM_SET_LAPIC of vCPU %u: %s", vcpu, strerror(errno));
		goto out;
	}
	ret = v;
out:
	pthread_mutex_unlock(&k->lock);
	return ret;
}

/* ---- GSI routes and irqfd ---- */

static int push_routes_locked(struct ims_kvm *k)
{
	size_t size = sizeof(struct kvm_irq_routing) + k->nr_routes * sizeof(struct kvm_irq_routing_entry);
	struct kvm_irq_routing *tbl;
	uint32_t i, n = 0;
	int ret = 0;

	if (!k->routes_dirty)
		return 0;
	tbl = ims__zalloc(size, "kvm_route_table");
	if (!tbl)
		return -ENOMEM;
	for (i = ims__find_next_bit(k->route_map, IMS_KVM_MAX_ROUTES, 0); i < IMS_KVM_MAX_ROUTES;
	     i = ims__find_next_bit(k->route_map, IMS_KVM_MAX_ROUTES, i + 1)) {
		struct kvm_irq_routing_entry *e = &tbl->entries[n++];

		e->gsi = KVM_GSI_BASE + i;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = k->routes[i].addr_lo;
		e->u.msi.address_hi = k->routes[i].addr_hi;
		e->u.msi.data = k->routes[i].data;
	}
	tbl->nr = n;
	if (ioctl(k->vm_fd, KVM_SET_GSI_ROUTING, tbl) < 0)
		ret = ims__error(-errno, "kvm: KVM_SET_GSI_ROUTING (%u routes): %s", n, strerror(errno));
	else {
		k->routes_dirty = false;
		k->pushes++;
	}
	ims__free(tbl, size);
	return ret;
}

int ims__kvm_route_add(struct ims_kvm *k, uint32_t addr_lo, uint32_t addr_hi, uint32_t data)
{
	struct kvm_irqfd irqfd = { 0 };
	uint32_t i;
	int efd, ret;

	ims__kvm_flush();
	pthread_mutex_lock(&k->lock);
	i = ims__find_next_zero_bit(k->route_map, IMS_KVM_MAX_ROUTES, 0);
	if (i >= IMS_KVM_MAX_ROUTES) {
		ret = ims__error(-ENOSPC, "kvm: all %u GSI routes are in use", IMS_KVM_MAX_ROUTES);
		goto out;
	}
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0) {
		ret = ims__error(-errno, "kvm: eventfd: %s", strerror(errno));
		goto out;
	}
	ims__set_bit(k->route_map, i);
	k->nr_routes++;
	k->routes[i] = (struct kvm_route){ addr_lo, addr_hi, data, efd };
	k->routes_dirty = true;
	/* KVM checks that an irqfd's GSI is routed: push before binding. */
	ret = push_routes_locked(k);
	if (!ret) {
		irqfd.fd = (uint32_t)efd;
		irqfd.gsi = KVM_GSI_BASE + i;
		if (ioctl(k->vm_fd, KVM_IRQFD, &irqfd) < 0)
			ret = ims__error(-errno, "kvm: KVM_IRQFD gsi %u: %s", irqfd.gsi, strerror(errno));
	}
	if (ret) {
		ims__clear_bit(k->route_map, i);
		k->nr_routes--;
		k->routes[i].efd = -1;
		k->routes_dirty = true;
		close(efd);
		goto out;
	}
	ret = (int)i;
out:
	pthread_mutex_unlock(&k->lock);
	return ret;
}

static bool route_ok(struct ims_kvm *k, int gsi)
{
	return gsi >= 0 && gsi < IMS_KVM_MAX_ROUTES && ims__test_bit(k->route_map, (uint32_t)gsi);
}

int ims__kvm_route_set(struct ims_kvm *k, int gsi, uint32_t addr_lo, uint32_t addr_hi, uint32_t data)
{
	int ret = 0;

	ims__kvm_flush();
	pthread_mutex_lock(&k->lock);
	if (!route_ok(k, gsi)) {
		ret = ims__error(-EINVAL, "kvm: no route %d", gsi);
	} else {
		k->routes[gsi].addr_lo = addr_lo;
		k->routes[gsi].addr_hi = addr_hi;
		k->routes[gsi].data = data;
		k->routes_dirty = true;
	}
	pthread_mutex_unlock(&k->lock);
	return ret;
}

int ims__kvm_route_del(struct ims_kvm *k, int gsi)
{
	struct kvm_irqfd irqfd = { 0 };
	int ret = 0;

	ims__kvm_flush();
	pthread_mutex_lock(&k->lock);
	if (!route_ok(k, gsi)) {
		ret = ims__error(-EINVAL, "kvm: no route %d", gsi);
		goto out;
	}
	irqfd.fd = (uint32_t)k->routes[gsi].efd;
	irqfd.gsi = KVM_GSI_BASE + (uint32_t)gsi;
	irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
	ioctl(k->vm_fd, KVM_IRQFD, &irqfd);
	close(k->routes[gsi].efd);
	k->routes[gsi].efd = -1;
	ims__clear_bit(k->route_map, (uint32_t)gsi);
	k->nr_routes--;
	k->routes_dirty = true;
out:
	pthread_mutex_unlock(&k->lock);
	return ret;
}

int ims__kvm_route_fire(struct ims_kvm *k, int gsi)
{
	uint64_t one = 1;
	int ret;

	ims__kvm_flush();
	pthread_mutex_lock(&k->lock);
	if (!route_ok(k, gsi)) {
		ret = ims__error(-EINVAL, "kvm: no route %d", gsi);
		goto out;
	}
	ret = push_routes_locked(k);
	if (ret)
		goto out;
	if (write(k->routes[gsi].efd, &one, sizeof(one)) != sizeof(one))
		ret = ims__error(-errno, "kvm: irqfd write: %s", strerror(errno));
out:
	pthread_mutex_unlock(&k->lock);
	return ret;
}

uint32_t ims__kvm_nr_routes(const struct ims_kvm *k)
{
	return k->nr_routes;
}

uint64_t ims__kvm_route_pushes(const struct ims_kvm *k)
{
	return k->pushes;
}
