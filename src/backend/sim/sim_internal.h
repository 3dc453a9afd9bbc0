/*
 * What the simulation's white-box tests reach beyond ims/sim.h: a run with
 * one of the deliberate bugs of enum sim_bug switched on, to prove that the
 * checker catches it.
 */
#ifndef IMS_BACKEND_SIM_INTERNAL_H
#define IMS_BACKEND_SIM_INTERNAL_H

#include <ims/sim.h>

#include "backend/sim/machine.h"

int ims__sim_run_bug(const struct ims_sim_config *cfg, enum sim_bug bug, const struct ims_sim_callbacks *cb,
		     struct ims_sim_result *res);

/* Counts, per-CPU deliveries and the interrupt table of a live machine. */
int ims__sim_take_result(struct sim_machine *m, struct ims_sim_result *res);

#endif
