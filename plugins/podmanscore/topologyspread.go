package podmanscore

import (
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	v1helper "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/helper"

	"github.com/berth-dev/berth/plugins/apis/config"
)

// systemDefaultConstraints are the kube-scheduler's default topology spread constraints (defaultingType:
// System): spread the pods of a pod's Services and controller over hostnames and zones.
var systemDefaultConstraints = []corev1.TopologySpreadConstraint{
	{TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.ScheduleAnyway, MaxSkew: 3},
	{TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.ScheduleAnyway, MaxSkew: 5},
}

// topologySpread is PodTopologySpread's scoring (PreScore, Score, NormalizeScore of the in-tree plugin, Kubernetes
// 1.37), reimplemented to give the same normalized score for every node: soft (ScheduleAnyway) constraints of the
// pod, or the cluster's default ones for a pod without constraints, honouring nodeAffinityPolicy,
// nodeTaintsPolicy and matchLabelKeys. The difference is the cost: the pods matching a constraint's selector are
// counted per node once and kept between cycles (podCounter), where the in-tree plugin walks every pod of every
// node of the cluster for every pod it schedules.
type topologySpread struct {
	systemDefaulted bool
	defaults        []corev1.TopologySpreadConstraint
	services        corelisters.ServiceLister
	rcs             corelisters.ReplicationControllerLister
	rss             appslisters.ReplicaSetLister
	sss             appslisters.StatefulSetLister
	// Feature gates, as the in-tree plugin reads them.
	matchLabelKeys   bool
	comparisonTaints bool
}

// newTopologySpread takes the default constraints from args and the snapshot and listers from the handle.
func newTopologySpread(args *config.PodmanScoreArgs, h fwk.Handle, matchLabelKeys, comparisonTaints bool) (*topologySpread, error) {
	if h == nil || h.SnapshotSharedLister() == nil {
		return nil, fmt.Errorf("topologySpreadWeight %d needs the scheduler's snapshot", args.TopologySpreadWeight)
	}
	t := &topologySpread{
		defaults:       args.DefaultConstraints,
		matchLabelKeys: matchLabelKeys, comparisonTaints: comparisonTaints,
	}
	if args.DefaultingType == schedconfig.SystemDefaulting {
		t.defaults, t.systemDefaulted = systemDefaultConstraints, true
	}
	if len(t.defaults) > 0 {
		f := h.SharedInformerFactory()
		if f == nil {
			return nil, fmt.Errorf("default topology spread constraints need the scheduler's informers")
		}
		t.services, t.rcs = f.Core().V1().Services().Lister(), f.Core().V1().ReplicationControllers().Lister()
		t.rss, t.sss = f.Apps().V1().ReplicaSets().Lister(), f.Apps().V1().StatefulSets().Lister()
	}
	return t, nil
}

// spreadConstraint is a soft constraint with its selector parsed.
type spreadConstraint struct {
	maxSkew       int32
	key           string
	selector      labels.Selector
	honorAffinity bool
	honorTaints   bool
}

// constraints returns the pod's ScheduleAnyway constraints, or, if it has none at all, the default ones with the
// selector of its Services and controller (none if that selector is empty).
func (t *topologySpread) constraints(pod *corev1.Pod) ([]spreadConstraint, error) {
	if len(pod.Spec.TopologySpreadConstraints) > 0 {
		cs, err := t.soft(pod.Spec.TopologySpreadConstraints, pod.Labels)
		if err != nil {
			return nil, fmt.Errorf("obtaining pod's soft topology spread constraints: %w", err)
		}
		return cs, nil
	}
	cs, err := t.soft(t.defaults, pod.Labels)
	if err != nil {
		return nil, fmt.Errorf("setting default soft topology spread constraints: %w", err)
	}
	if len(cs) == 0 {
		return nil, nil
	}
	selector := helper.DefaultSelector(pod, t.services, t.rcs, t.rss, t.sss)
	if selector.Empty() {
		return nil, nil
	}
	for i := range cs {
		cs[i].selector = selector
	}
	return cs, nil
}

func (t *topologySpread) soft(in []corev1.TopologySpreadConstraint, podLabels map[string]string) ([]spreadConstraint, error) {
	var out []spreadConstraint
	for _, c := range in {
		if c.WhenUnsatisfiable != corev1.ScheduleAnyway {
			continue
		}
		selector, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil {
			return nil, err
		}
		if t.matchLabelKeys && len(c.MatchLabelKeys) > 0 {
			set := labels.Set{}
			for _, k := range c.MatchLabelKeys {
				if v, ok := podLabels[k]; ok {
					set[k] = v
				}
			}
			if len(set) > 0 {
				if reqs, ok := selector.Requirements(); ok {
					selector = labels.SelectorFromSet(set).Add(reqs...)
				}
			}
		}
		out = append(out, spreadConstraint{
			maxSkew: c.MaxSkew, key: c.TopologyKey, selector: selector,
			honorAffinity: c.NodeAffinityPolicy == nil || *c.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor,
			honorTaints:   c.NodeTaintsPolicy != nil && *c.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor,
		})
	}
	return out, nil
}

// groupKey names the pods a selector counts in a namespace; "" for a selector that counts none.
func groupKey(namespace string, selector labels.Selector) string {
	if selector.Empty() {
		return ""
	}
	s := selector.String()
	if s == "" { // labels.Nothing()
		return ""
	}
	return "selector\x00" + namespace + "\x00" + s
}

// spreadScores computes the raw topology spread score of each node to score (as the in-tree Score returns it),
// -1 for a node the in-tree plugin ignores (it lacks one of the constraints' topology keys); nil if the pod has no
// soft constraints (the in-tree PreScore returns Skip: the part is 0 on every node). all is the snapshot's node
// list, positions the position of each node to score in it (-1 if not there).
func (t *topologySpread) spreadScores(logger klog.Logger, cc *cycleCounts, pod *corev1.Pod, all, toScore []fwk.NodeInfo, positions []int) ([]int64, error) {
	if len(all) == 0 {
		return nil, nil
	}
	cs, err := t.constraints(pod)
	if err != nil || len(cs) == 0 {
		return nil, err
	}
	requireAll := len(pod.Spec.TopologySpreadConstraints) > 0 || !t.systemDefaulted
	hasAllKeys := func(node *corev1.Node) bool {
		for i := range cs {
			if _, ok := node.Labels[cs[i].key]; !ok {
				return false
			}
		}
		return true
	}

	// The domains of each constraint other than the hostname one: the values of its key on the nodes to score
	// (the empty value for a node without the key, when not all keys are required), with their pod counts.
	groups := make([]*podGroup, len(cs))
	domains := make([]map[string]int, len(cs))
	sums := make([][]int64, len(cs))
	scored := make([]int64, len(toScore))
	ignored := 0
	for i := range cs {
		if key := groupKey(pod.Namespace, cs[i].selector); key != "" {
			c := cs[i]
			groups[i] = cc.group(key, func() func(*corev1.Pod) bool { return selectorMatcher(pod.Namespace, c.selector) })
		}
		if cs[i].key != corev1.LabelHostname {
			domains[i] = map[string]int{}
		}
	}
	for n, ni := range toScore {
		node := ni.Node()
		if requireAll && !hasAllKeys(node) {
			scored[n] = -1
			ignored++
			continue
		}
		for i := range cs {
			if domains[i] == nil {
				continue
			}
			v := node.Labels[cs[i].key]
			if _, ok := domains[i][v]; !ok {
				domains[i][v] = len(domains[i])
			}
		}
	}
	weights := make([]float64, len(cs))
	for i := range cs {
		size := len(toScore) - ignored
		if domains[i] != nil {
			size = len(domains[i])
			sums[i] = make([]int64, size)
		}
		weights[i] = math.Log(float64(size + 2))
	}

	// Every node of the cluster that the constraints include adds its matching pods to its domain's count.
	required := nodeaffinity.GetRequiredNodeAffinity(pod)
	for p, ni := range all {
		node := ni.Node()
		if node == nil || (requireAll && !hasAllKeys(node)) {
			continue
		}
		affinity, taints := 0, 0 // 0 unknown, 1 included, -1 excluded
		for i := range cs {
			if domains[i] == nil || groups[i] == nil {
				continue
			}
			d, ok := domains[i][node.Labels[cs[i].key]]
			if !ok {
				continue
			}
			if cs[i].honorAffinity {
				if affinity == 0 {
					affinity = -1
					if match, _ := required.Match(node); match {
						affinity = 1
					}
				}
				if affinity < 0 {
					continue
				}
			}
			if cs[i].honorTaints {
				if taints == 0 {
					taints = 1
					if _, untolerated := v1helper.FindMatchingUntoleratedTaint(logger, node.Spec.Taints, pod.Spec.Tolerations,
						helper.DoNotScheduleTaintsFilterFunc(), t.comparisonTaints); untolerated {
						taints = -1
					}
				}
				if taints < 0 {
					continue
				}
			}
			sums[i][d] += cc.at(groups[i], p, ni)
		}
	}

	// Each node to score: the sum over the constraints whose key it has of its domain's count (its own for the
	// hostname), weighted, plus maxSkew-1, rounded; in the in-tree plugin's order of operations, so that the
	// floating-point result is the same.
	for n, ni := range toScore {
		if scored[n] < 0 {
			continue
		}
		node := ni.Node()
		var score float64
		for i := range cs {
			v, ok := node.Labels[cs[i].key]
			if !ok {
				continue
			}
			var cnt int64
			if domains[i] == nil {
				if groups[i] != nil {
					cnt = cc.at(groups[i], positions[n], ni)
				}
			} else {
				cnt = sums[i][domains[i][v]]
			}
			score += float64(cnt)*weights[i] + float64(cs[i].maxSkew-1)
		}
		scored[n] = int64(math.Round(score))
	}
	return scored, nil
}

// normalizeSpread turns raw topology spread scores into the in-tree NormalizeScore's 0..100: the nodes with the
// fewest matching pods get 100; ignored nodes (raw -1) get 0.
func normalizeSpread(raw []int64, out []int64) {
	minScore, maxScore := int64(math.MaxInt64), int64(0)
	for _, s := range raw {
		if s < 0 {
			continue
		}
		minScore, maxScore = min(minScore, s), max(maxScore, s)
	}
	for i, s := range raw {
		switch {
		case s < 0:
			out[i] = 0
		case maxScore == 0:
			out[i] = fwk.MaxNodeScore
		default:
			out[i] = fwk.MaxNodeScore * (maxScore + minScore - s) / maxScore
		}
	}
}
