// Package podmanscore is the PodmanScore plugin: a weighted, configurable sum of spread (fewer pods of the same
// controller on the node score higher), least loaded (by requested share and by the host's observed usage) and
// image locality (images the Podman host already stores), normalized to 0..100.
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
	"k8s.io/apimachinery/pkg/types"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"

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
	}
}

// New builds the plugin from its arguments (nil means defaults).
func New(ctx context.Context, obj runtime.Object, _ fwk.Handle) (fwk.Plugin, error) {
	var args config.PodmanScoreArgs
	switch a := obj.(type) {
	case nil:
		args = DefaultArgs()
	case *config.PodmanScoreArgs:
		args = *a
	default:
		return nil, fmt.Errorf("want args to be of type PodmanScoreArgs, got %T", obj)
	}
	if err := validation.ValidatePodmanScoreArgs(nil, &args); err != nil {
		return nil, err
	}
	return &PodmanScore{args: args, now: time.Now, logger: klog.FromContext(ctx).WithValues("plugin", Name)}, nil
}

// Name implements fwk.Plugin.
func (p *PodmanScore) Name() string { return Name }

// preScoreState is what PreScore computes once per pod.
type preScoreState struct {
	owner    types.UID // controller owner, empty if none
	milliCPU int64
	memory   int64
	images   []string // normalized names
	now      time.Time
}

func (s *preScoreState) Clone() fwk.StateData { return s }

// PreScore implements fwk.PreScorePlugin.
func (p *PodmanScore) PreScore(_ context.Context, state fwk.CycleState, pod *corev1.Pod, _ []fwk.NodeInfo) *fwk.Status {
	s := &preScoreState{now: p.now()}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		s.owner = ref.UID
	}
	reqs := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{NonMissingContainerRequests: nonZeroDefaults})
	s.milliCPU, s.memory = reqs.Cpu().MilliValue(), reqs.Memory().Value()
	for _, c := range pod.Spec.Containers {
		s.images = append(s.images, c.Image)
	}
	state.Write(preScoreStateKey, s)
	return nil
}

// The raw score packs the three parts so that Score needs no shared state: spread count (bits 14+), load (7-13),
// image (0-6). NormalizeScore unpacks them, knowing every node's spread count.
const (
	partBits = 7
	partMask = 1<<partBits - 1
	maxCount = 1<<20 - 1
)

func pack(count, load, image int64) int64 {
	return min(count, maxCount)<<(2*partBits) | load<<partBits | image
}

func unpack(raw int64) (count, load, image int64) {
	return raw >> (2 * partBits), (raw >> partBits) & partMask, raw & partMask
}

// Score implements fwk.ScorePlugin: it returns the node's parts packed; NormalizeScore makes the final score.
func (p *PodmanScore) Score(_ context.Context, state fwk.CycleState, _ *corev1.Pod, nodeInfo fwk.NodeInfo) (int64, *fwk.Status) {
	s, err := readState(state)
	if err != nil {
		return 0, fwk.AsStatus(err)
	}
	count := int64(0)
	if s.owner != "" {
		for _, pi := range nodeInfo.GetPods() {
			if ref := metav1.GetControllerOfNoCopy(pi.GetPod()); ref != nil && ref.UID == s.owner {
				count++
			}
		}
	}
	return pack(count, p.load(s, nodeInfo), imageScore(s, nodeInfo)), nil
}

// load scores how little the node is loaded once the pod is on it: by requests (like LeastAllocated, over cpu
// and memory), blended with the host's observed memory use (what its available memory leaves) when fresh.
func (p *PodmanScore) load(s *preScoreState, nodeInfo fwk.NodeInfo) int64 {
	alloc, req := nodeInfo.GetAllocatable(), nodeInfo.GetNonZeroRequested()
	requested := (leastAllocated(req.GetMilliCPU()+s.milliCPU, alloc.GetMilliCPU()) + leastAllocated(req.GetMemory()+s.memory, alloc.GetMemory())) / 2
	avail, ok := hostobs.AvailableMemory(nodeInfo.Node(), s.now, p.args.MaxObservationAge.Duration)
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
	for _, img := range s.images {
		if hasImage(states, img) {
			present++
		}
	}
	return int64(present) * fwk.MaxScore / int64(len(s.images))
}

// hasImage looks an image up under the names a node may report it by: as written, with :latest, and fully
// qualified on docker.io.
func hasImage(states map[string]*fwk.ImageStateSummary, image string) bool {
	for _, n := range imageNames(image) {
		if _, ok := states[n]; ok {
			return true
		}
	}
	return false
}

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

// NormalizeScore turns the packed parts into the weighted 0..100 score, and leaves the breakdown for PodmanBind.
func (p *PodmanScore) NormalizeScore(_ context.Context, state fwk.CycleState, _ *corev1.Pod, scores fwk.NodeScoreList) *fwk.Status {
	most := int64(0)
	for _, s := range scores {
		count, _, _ := unpack(s.Score)
		most = max(most, count)
	}
	out := &decision.Scores{Nodes: make(map[string]decision.Breakdown, len(scores)), Candidates: len(scores)}
	out.Weights.Spread, out.Weights.Load, out.Weights.Image = p.args.SpreadWeight, p.args.LoadWeight, p.args.ImageWeight
	sum := p.args.SpreadWeight + p.args.LoadWeight + p.args.ImageWeight
	for i := range scores {
		count, load, image := unpack(scores[i].Score)
		spread := int64(fwk.MaxScore)
		if most > 0 {
			spread = (most - count) * fwk.MaxScore / most
		}
		total := (p.args.SpreadWeight*spread + p.args.LoadWeight*load + p.args.ImageWeight*image) / sum
		scores[i].Score = total
		out.Nodes[scores[i].Name] = decision.Breakdown{Total: total, Spread: spread, Load: load, Image: image}
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
