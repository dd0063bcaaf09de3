// Package podmanscore is the PodmanScore plugin: a weighted, configurable sum of spread (fewer pods of the same
// controller on the node score higher), least loaded (by requested share and by the host's observed usage), image
// locality (images the Podman host already stores) and, optionally, soft topology spread (PodTopologySpread's
// score, reimplemented with per-node counts kept between cycles), normalized to 0..100.
package podmanscore

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	plfeature "k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"

	"github.com/berth-dev/berth/plugins/apis/config"
	_ "github.com/berth-dev/berth/plugins/apis/config/scheme" // registers the arguments
	configv1 "github.com/berth-dev/berth/plugins/apis/config/v1"
	"github.com/berth-dev/berth/plugins/apis/config/validation"
	"github.com/berth-dev/berth/plugins/internal/decision"
	"github.com/berth-dev/berth/plugins/internal/hostobs"
)

// Name is the plugin's name in a KubeSchedulerConfiguration.
const Name = "PodmanScore"

const preScoreStateKey = "PreScore" + Name

// nonZeroDefaults are the requests counted for a container that requests nothing, as the in-tree scorers (and
// the scheduler's NodeInfo.GetNonZeroRequested) count them.
var nonZeroDefaults = corev1.ResourceList{
	corev1.ResourceCPU:    *resource.NewMilliQuantity(100, resource.DecimalSI),
	corev1.ResourceMemory: *resource.NewQuantity(200<<20, resource.BinarySI),
}

// PodmanScore is the score plugin.
type PodmanScore struct {
	args   config.PodmanScoreArgs
	now    func() time.Time
	logger klog.Logger
	// topology is the topology spread part, nil when its weight is 0.
	topology *topologySpread
	// all lists the snapshot's nodes, for the counter's positions; nil without a handle (unit tests).
	all    fwk.NodeInfoLister
	counts *podCounter
	// obs holds the nodes' parsed host observations.
	obs hostobs.Observations
}

var (
	_ fwk.PreScorePlugin = &PodmanScore{}
	_ fwk.ScorePlugin    = &PodmanScore{}
)

// DefaultArgs are the arguments used when none are configured.
func DefaultArgs() config.PodmanScoreArgs {
	return config.PodmanScoreArgs{
		SpreadWeight: configv1.DefaultSpreadWeight, LoadWeight: configv1.DefaultLoadWeight, ImageWeight: configv1.DefaultImageWeight,
		ObservedUsagePercent: configv1.DefaultObservedUsagePercent,
		MaxObservationAge:    metav1.Duration{Duration: configv1.DefaultMaxObservationAge},
		TopologySpreadWeight: configv1.DefaultTopologySpreadWeight,
		DefaultingType:       schedconfig.SystemDefaulting,
	}
}

// New builds the plugin from its arguments (nil means defaults).
func New(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
	var args config.PodmanScoreArgs
	switch a := obj.(type) {
	case nil:
		args = DefaultArgs()
	case *config.PodmanScoreArgs:
		args = *a
	default:
		return nil, fmt.Errorf("want args to be of type PodmanScoreArgs, got %T", obj)
	}
	if args.DefaultingType == "" {
		args.DefaultingType = schedconfig.SystemDefaulting
	}
	if err := validation.ValidatePodmanScoreArgs(nil, &args); err != nil {
		return nil, err
	}
	p := &PodmanScore{args: args, now: time.Now, logger: klog.FromContext(ctx).WithValues("plugin", Name), counts: newPodCounter()}
	if h != nil && h.SnapshotSharedLister() != nil {
		p.all = h.SnapshotSharedLister().NodeInfos()
	}
	if args.TopologySpreadWeight > 0 {
		// The feature gates the in-tree PodTopologySpread reads (NodeInclusionPolicyInPodTopologySpread is locked on).
		fts := plfeature.NewSchedulerFeaturesFromGates(utilfeature.DefaultFeatureGate)
		t, err := newTopologySpread(&args, h, fts.EnableMatchLabelKeysInPodTopologySpread, fts.EnableTaintTolerationComparisonOperators)
		if err != nil {
			return nil, err
		}
		p.topology = t
	}
	return p, nil
}

// Name implements fwk.Plugin.
func (p *PodmanScore) Name() string { return Name }

// preScoreState is what PreScore computes once per pod.
type preScoreState struct {
	milliCPU int64
	memory   int64
	// images are the names under which a node may report each of the pod's images.
	images [][]string
	now    time.Time
	// The nodes to score, in PreScore's order, and what PreScore counted on each: the pods of the pod's
	// controller (nil without one) and the raw topology spread score (nil without soft constraints or weight).
	names    []string
	owners   []int64
	topology []int64
}

func (s *preScoreState) Clone() fwk.StateData { return s }

// PreScore implements fwk.PreScorePlugin: the pod's requests and image names, and, for each node to score, the
// counts of the spread parts.
func (p *PodmanScore) PreScore(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, nodes []fwk.NodeInfo) *fwk.Status {
	s := &preScoreState{now: p.now()}
	reqs := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{NonMissingContainerRequests: nonZeroDefaults})
	s.milliCPU, s.memory = reqs.Cpu().MilliValue(), reqs.Memory().Value()
	for _, c := range pod.Spec.Containers {
		s.images = append(s.images, imageNames(c.Image))
	}
	s.names = make([]string, len(nodes))
	for i, ni := range nodes {
		s.names[i] = ni.Node().Name
	}

	var all []fwk.NodeInfo
	if p.all != nil {
		var err error
		if all, err = p.all.List(); err != nil {
			return fwk.AsStatus(fmt.Errorf("getting all nodes: %w", err))
		}
	}
	cc := p.counts.begin(all, state.IsPodGroupSchedulingCycle())
	defer cc.release()
	positions := make([]int, len(nodes))
	cc.positions(nodes, positions)
	if ref := metav1.GetControllerOf(pod); ref != nil {
		uid := ref.UID
		g := cc.group("owner\x00"+string(uid), func() func(*corev1.Pod) bool { return ownerMatcher(uid) })
		s.owners = make([]int64, len(nodes))
		for i, ni := range nodes {
			s.owners[i] = cc.at(g, positions[i], ni)
		}
	}
	if p.topology != nil {
		var err error
		if s.topology, err = p.topology.spreadScores(klog.FromContext(ctx), cc, pod, all, nodes, positions); err != nil {
			return fwk.AsStatus(fmt.Errorf("calculating topology spread: %w", err))
		}
	}
	state.Write(preScoreStateKey, s)
	return nil
}

// The raw score packs the two node-local parts: load (bits 7-13) and image (0-6). NormalizeScore unpacks them and
// adds the parts PreScore counted.
const (
	partBits = 7
	partMask = 1<<partBits - 1
)

func pack(load, image int64) int64 { return load<<partBits | image }

func unpack(raw int64) (load, image int64) { return (raw >> partBits) & partMask, raw & partMask }

// Score implements fwk.ScorePlugin: it returns the node's load and image parts packed; NormalizeScore makes the
// final score.
func (p *PodmanScore) Score(_ context.Context, state fwk.CycleState, _ *corev1.Pod, nodeInfo fwk.NodeInfo) (int64, *fwk.Status) {
	s, err := readState(state)
	if err != nil {
		return 0, fwk.AsStatus(err)
	}
	return pack(p.load(s, nodeInfo), imageScore(s, nodeInfo)), nil
}

// load scores how little the node is loaded once the pod is on it: by requests (like LeastAllocated, over cpu
// and memory), blended with the host's observed memory use (what its available memory leaves) when fresh.
func (p *PodmanScore) load(s *preScoreState, nodeInfo fwk.NodeInfo) int64 {
	alloc, req := nodeInfo.GetAllocatable(), nodeInfo.GetNonZeroRequested()
	requested := (leastAllocated(req.GetMilliCPU()+s.milliCPU, alloc.GetMilliCPU()) + leastAllocated(req.GetMemory()+s.memory, alloc.GetMemory())) / 2
	avail, ok := p.obs.AvailableMemory(nodeInfo.Node(), s.now, p.args.MaxObservationAge.Duration)
	if !ok || p.args.ObservedUsagePercent == 0 || alloc.GetMemory() <= 0 {
		return requested
	}
	observed := leastAllocated(alloc.GetMemory()-avail+s.memory, alloc.GetMemory())
	w := p.args.ObservedUsagePercent
	return ((100-w)*requested + w*observed) / 100
}

// leastAllocated is 100 for an empty node and 0 for a full (or overfull) one.
func leastAllocated(used, capacity int64) int64 {
	if capacity <= 0 || used >= capacity {
		return 0
	}
	if used < 0 {
		used = 0
	}
	return (capacity - used) * fwk.MaxScore / capacity
}

// imageScore is the share of the pod's containers whose image the node already stores.
func imageScore(s *preScoreState, nodeInfo fwk.NodeInfo) int64 {
	if len(s.images) == 0 {
		return 0
	}
	states := nodeInfo.GetImageStates()
	present := 0
	for _, names := range s.images {
		if hasImage(states, names) {
			present++
		}
	}
	return int64(present) * fwk.MaxScore / int64(len(s.images))
}

// hasImage tells whether the node stores an image under one of its names.
func hasImage(states map[string]*fwk.ImageStateSummary, names []string) bool {
	for _, n := range names {
		if _, ok := states[n]; ok {
			return true
		}
	}
	return false
}

// imageNames lists the names a node may report an image by: as written, with :latest, and fully qualified on
// docker.io.
func imageNames(image string) []string {
	names := []string{image}
	name := image
	if !strings.Contains(name, "@") && strings.LastIndex(name, ":") <= strings.LastIndex(name, "/") {
		name += ":latest"
		names = append(names, name)
	}
	first, _, hasSlash := strings.Cut(name, "/")
	if !hasSlash {
		names = append(names, "docker.io/library/"+name)
	} else if !strings.ContainsAny(first, ".:") && first != "localhost" {
		names = append(names, "docker.io/"+name)
	}
	return names
}

// ScoreExtensions implements fwk.ScorePlugin.
func (p *PodmanScore) ScoreExtensions() fwk.ScoreExtensions { return p }

// NormalizeScore turns the parts into the weighted 0..100 score, and leaves the breakdown for PodmanBind.
func (p *PodmanScore) NormalizeScore(_ context.Context, state fwk.CycleState, _ *corev1.Pod, scores fwk.NodeScoreList) *fwk.Status {
	s, err := readState(state)
	if err != nil {
		return fwk.AsStatus(err)
	}
	// PreScore's position of each scored node: the same list in the same order, as the framework passes it; by
	// name otherwise.
	at := make([]int, len(scores))
	var byName map[string]int
	for i := range scores {
		if i < len(s.names) && s.names[i] == scores[i].Name {
			at[i] = i
			continue
		}
		if byName == nil {
			byName = make(map[string]int, len(s.names))
			for k, n := range s.names {
				byName[n] = k
			}
		}
		k, ok := byName[scores[i].Name]
		if !ok {
			return fwk.AsStatus(fmt.Errorf("node %s was not given to PreScore", scores[i].Name))
		}
		at[i] = k
	}

	most := int64(0)
	if s.owners != nil {
		for i := range scores {
			most = max(most, s.owners[at[i]])
		}
	}
	var topology []int64
	if s.topology != nil {
		raw := make([]int64, len(scores))
		for i := range scores {
			raw[i] = s.topology[at[i]]
		}
		topology = make([]int64, len(scores))
		normalizeSpread(raw, topology)
	}

	out := &decision.Scores{Names: make([]string, len(scores)), Breakdowns: make([]decision.Breakdown, len(scores)), Candidates: len(scores)}
	w := decision.Weights{Spread: p.args.SpreadWeight, Load: p.args.LoadWeight, Image: p.args.ImageWeight, TopologySpread: p.args.TopologySpreadWeight}
	out.Weights = w
	sum := w.Spread + w.Load + w.Image + w.TopologySpread
	for i := range scores {
		load, image := unpack(scores[i].Score)
		spread := int64(fwk.MaxScore)
		if most > 0 {
			spread = (most - s.owners[at[i]]) * fwk.MaxScore / most
		}
		// Without soft constraints the in-tree plugin skips the pod: its score is 0 on every node.
		var topo int64
		if topology != nil {
			topo = topology[i]
		}
		total := (w.Spread*spread + w.Load*load + w.Image*image + w.TopologySpread*topo) / sum
		scores[i].Score = total
		out.Names[i] = scores[i].Name
		out.Breakdowns[i] = decision.Breakdown{Total: total, Spread: spread, Load: load, Image: image, TopologySpread: topo}
	}
	state.Write(decision.StateKey, out)
	return nil
}

func readState(state fwk.CycleState) (*preScoreState, error) {
	data, err := state.Read(preScoreStateKey)
	if err != nil {
		return nil, fmt.Errorf("reading %q from cycle state: %w", preScoreStateKey, err)
	}
	s, ok := data.(*preScoreState)
	if !ok {
		return nil, fmt.Errorf("%+v cannot be converted to podmanscore.preScoreState", data)
	}
	return s, nil
}
