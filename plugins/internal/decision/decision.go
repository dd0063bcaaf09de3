// Package decision carries the score breakdown from the PodmanScore plugin to the PodmanBind plugin through the
// scheduling cycle's state, so that the binding can record why the pod landed where it did.
package decision

import (
	fwk "k8s.io/kube-scheduler/framework"
)

// StateKey is where PodmanScore leaves the breakdown.
const StateKey fwk.StateKey = "berth.dev/score-breakdown"

// Breakdown is one node's score and its parts, each 0..100.
type Breakdown struct {
	Total  int64 `json:"total"`
	Spread int64 `json:"spread"`
	Load   int64 `json:"load"`
	Image  int64 `json:"image"`
	// TopologySpread is PodTopologySpread's normalized score for the node, when PodmanScore computes it.
	TopologySpread int64 `json:"topologySpread,omitempty"`
}

// Weights are the weights that combined the parts.
type Weights struct {
	Spread         int64 `json:"spread"`
	Load           int64 `json:"load"`
	Image          int64 `json:"image"`
	TopologySpread int64 `json:"topologySpread,omitempty"`
}

// Scores holds every scored node's breakdown and the weights that combined them.
type Scores struct {
	Weights Weights `json:"weights"`
	// Names and Breakdowns are the scored nodes and their breakdowns, in the same order: two slices rather than
	// a map, so that a scheduling cycle over thousands of nodes builds no map that only one lookup reads.
	Names      []string    `json:"-"`
	Breakdowns []Breakdown `json:"-"`
	// Candidates is the number of nodes scored.
	Candidates int `json:"candidates"`
}

// Node returns the breakdown of the named node, if it was scored.
func (s *Scores) Node(name string) (Breakdown, bool) {
	for i, n := range s.Names {
		if n == name && i < len(s.Breakdowns) {
			return s.Breakdowns[i], true
		}
	}
	return Breakdown{}, false
}

// Clone implements fwk.StateData; written once after scoring, then only read.
func (s *Scores) Clone() fwk.StateData { return s }
