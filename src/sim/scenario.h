/* scenario.h - `carbon sim --scenario`: which scenario each simulated
 * device runs, from a name, "mix", or a list of counts. */
#ifndef CARBON_SIM_SCENARIO_H
#define CARBON_SIM_SCENARIO_H
#include "sim/sensor.h"

#include <stddef.h>
#include <stdint.h>

/* Assigns one scenario per device from spec:
 *  - a scenario name ("steady", "fast-leak", ...): every device;
 *  - "mix": 60 % steady and 10 % of each other scenario, per device, drawn
 *    from seed (the same seed, the same assignment);
 *  - "name:count,name:count,...": that many of each, in that order; every
 *    item needs a known name and a count from 1, no item may be empty.
 * *ndev is the number of devices asked for (0: not given). With counts,
 * it must be 0 or their sum, and becomes their sum; otherwise 0 becomes 1.
 * At most max devices in all.
 * Returns 0 with *out set to *ndev scenarios (the caller frees it); 2 when
 * spec is unusable, with the reason in err (cap bytes, no prefix) and *out
 * NULL; 1 when out of memory. */
int sim_scenarios_assign(const char *spec, uint64_t seed, size_t max, size_t *ndev,
                         enum sim_scenario **out, char *err, size_t cap);

#endif
