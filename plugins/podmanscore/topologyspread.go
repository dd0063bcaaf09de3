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
	// Each constraint's key's values on the nodes, kept between cycles (keyValues); a node without the key counts
	// in the empty value's domain, as the in-tree plugin's label lookup gives it.
	keys := make([]*keyValues, len(cs))
	empty := make([]int32, len(cs))
	isHost := make([]bool, len(cs))
	for i := range cs {
		keys[i] = cc.values(cs[i].key)
		empty[i] = keys[i].intern("")
		isHost[i] = cs[i].key == corev1.LabelHostname
	}
	// vals receives a node's value of each key; included says whether the constraints include the node at all: it
	// has a node and, when all keys are required, each of them. The walk over all nodes reads no hostname value
	// unless all keys are required (skipHost): it counts per domain, and the hostname's domain is the node itself.
	vals := make([]int32, len(cs))
	included := func(p int, ni fwk.NodeInfo, skipHost bool) bool {
		for i := range cs {
			if skipHost && isHost[i] {
				continue
			}
			vals[i] = cc.value(keys[i], p, ni)
			if vals[i] == noNode || (requireAll && vals[i] == noValue) {
				return false
			}
		}
		return true
	}

	// The domains of each constraint other than the hostname one: the values of its key on the nodes to score,
	// with their pod counts. domains[i] maps a value to its domain's index, -1 for a value that is none.
	groups := make([]*podGroup, len(cs))
	domains := make([][]int32, len(cs))
	sums := make([][]int64, len(cs))
	// inDomain is the value whose domain a node of value v is in: a node without the key is in the empty value's.
	inDomain := func(i int, v int32) int32 {
		if v == noValue {
			return empty[i]
		}
		return v
	}
	domainOf := func(i int, v int32) int32 {
		v = inDomain(i, v)
		if int(v) >= len(domains[i]) {
			return -1
		}
		return domains[i][v]
	}
	for i := range cs {
		if key := groupKey(pod.Namespace, cs[i].selector); key != "" {
			c := cs[i]
			groups[i] = cc.group(key, func() func(*corev1.Pod) bool { return selectorMatcher(pod.Namespace, c.selector) })
		}
	}
	scored := make([]int64, len(toScore))
	sizes := make([]int32, len(cs))
	ignored := 0
	for n, ni := range toScore {
		if !included(positions[n], ni, false) {
			scored[n] = -1
			ignored++
			continue
		}
		for i := range cs {
			if isHost[i] {
				continue
			}
			v := inDomain(i, vals[i])
			for int(v) >= len(domains[i]) {
				domains[i] = append(domains[i], -1)
			}
			if domains[i][v] < 0 {
				domains[i][v] = sizes[i]
				sizes[i]++
			}
		}
	}
	weights := make([]float64, len(cs))
	for i := range cs {
		size := len(toScore) - ignored
		if !isHost[i] {
			size = int(sizes[i])
			sums[i] = make([]int64, size)
		}
		weights[i] = math.Log(float64(size + 2))
	}

	// Every node of the cluster that the constraints include adds its matching pods to its domain's count. A pod
	// without a required node affinity or selector has every node match it, so the node is read only for taints.
	required := nodeaffinity.GetRequiredNodeAffinity(pod)
	anyNode := len(pod.Spec.NodeSelector) == 0 && (pod.Spec.Affinity == nil || pod.Spec.Affinity.NodeAffinity == nil ||
		pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil)
	for p, ni := range all {
		if !included(p, ni, !requireAll) {
			continue
		}
		affinity, taints := 0, 0 // 0 unknown, 1 included, -1 excluded
		for i := range cs {
			if isHost[i] || groups[i] == nil {
				continue
			}
			d := domainOf(i, vals[i])
			if d < 0 {
				continue
			}
			if cs[i].honorAffinity && !anyNode {
				if affinity == 0 {
					affinity = -1
					if match, _ := required.Match(ni.Node()); match {
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
					if _, untolerated := v1helper.FindMatchingUntoleratedTaint(logger, ni.Node().Spec.Taints, pod.Spec.Tolerations,
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
		included(positions[n], ni, false)
		var score float64
		for i := range cs {
			if vals[i] == noValue {
				continue
			}
			var cnt int64
			if isHost[i] {
				if groups[i] != nil {
					cnt = cc.at(groups[i], positions[n], ni)
				}
			} else {
				cnt = sums[i][domainOf(i, vals[i])]
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
