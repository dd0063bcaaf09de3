// Package benchutil holds what Berth's benchmark commands (hack/schedperf, hack/podbench, hack/apibench) and their
// driver (hack/bench) share: the figures they report in machine-readable form, nearest-rank percentiles, polling,
// free ports, the machine's background load, and a one-node cluster in a state folder of its own.
package benchutil
