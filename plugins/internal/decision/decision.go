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
}

// Scores holds every scored node's breakdown and the weights that combined them.
type Scores struct {
	Weights struct {
		Spread int64 `json:"spread"`
		Load   int64 `json:"load"`
		Image  int64 `json:"image"`
	} `json:"weights"`
	Nodes map[string]Breakdown `json:"-"`
	// Candidates is the number of nodes scored.
	Candidates int `json:"candidates"`
}

// Clone implements fwk.StateData; written once after scoring, then only read.
func (s *Scores) Clone() fwk.StateData { return s }
