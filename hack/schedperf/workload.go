package main

// Workloads: what the cluster looks like and which pods a round measures. "berth" is schedperf's own (big nodes,
// pods owned by ReplicaSets); the others reproduce test cases of upstream's scheduler benchmark
// (k8s.io/kubernetes/test/integration/scheduler_perf, v1.37.2) from verbatim copies of its templates in testdata/.

import (
	"embed"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/berth-dev/berth/internal/wellknown"
)

// Workload names, as --workload takes them.
const (
	workloadBerth                      = "berth"
	workloadTopologySpreading          = "TopologySpreading"
	workloadPreferredTopologySpreading = "PreferredTopologySpreading"
	workloadPreemptionBasic            = "PreemptionBasic"
)

// workloadNames are the workloads --workload accepts, in the order documented.
var workloadNames = []string{workloadBerth, workloadTopologySpreading, workloadPreferredTopologySpreading, workloadPreemptionBasic}

const (
	// initLabel marks the init pods: bound before the rounds, kept between them, not measured.
	initLabel = "schedperf.berth.dev/init"
	// fakeLabel marks the fake nodes.
	fakeLabel = "schedperf.berth.dev/fake"
)

// upstreamZones are the zones upstream's labelNodePrepareStrategy gives the nodes of the topology-spreading test
// cases, round robin.
var upstreamZones = []string{"moon-1", "moon-2", "moon-3"}

//go:embed testdata/templates/*.yaml testdata/default_preemption/templates/*.yaml
var upstreamTemplates embed.FS

// workload is one scheduling scenario.
type workload struct {
	name string
	// upstream is the scheduler_perf test case it reproduces, with the file that defines it; empty for Berth's own.
	upstream string
	// node is fake node i with its status, as its virtual kubelet reports it at now.
	node func(i int, now time.Time) *corev1.Node
	// observation is what node i's virtual kubelet reports about its Podman host at now (node annotations),
	// renewed before every round.
	observation func(i int, now time.Time) map[string]string
	// initPerNode init pods per node (initPod) are bound before the rounds, init pod j to node j mod nodes, and
	// topped up before every round (preemption deletes some); none when 0.
	initPerNode int
	initPod     *corev1.Pod
	// measured is the measured pods' template; nil for the berth workload, whose pods are newPod's.
	measured *corev1.Pod
	// onePerNode says that only one measured pod fits a node (the preemptors take a whole node): a round measures
	// at most as many pods as there are nodes, and each must have preempted.
	onePerNode bool
	// priorityClasses are the classes that the pods name.
	priorityClasses []*schedulingv1.PriorityClass
}

// newWorkload builds the named workload from the embedded templates.
func newWorkload(name string) (*workload, error) {
	w := &workload{name: name}
	switch name {
	case workloadBerth:
		w.node = berthNode
		w.observation = nodeObservation
		return w, nil
	case workloadTopologySpreading, workloadPreferredTopologySpreading:
		// topology_spreading/performance-config.yaml: nodes from node-default.yaml labelled with three zones, init
		// pods from pod-default.yaml (1 per node as in its 5000Nodes case; 500Nodes has 2), then the measured
		// pods with a zone spread constraint (maxSkew 5, DoNotSchedule or ScheduleAnyway).
		measured := "templates/pod-with-topology-spreading.yaml"
		if name == workloadPreferredTopologySpreading {
			measured = "templates/pod-with-preferred-topology-spreading.yaml"
		}
		w.upstream = name + " (topology_spreading/performance-config.yaml)"
		w.initPerNode = 1
		return w, w.load(true, "templates/pod-default.yaml", measured)
	case workloadPreemptionBasic:
		// default_preemption/performance-config.yaml: plain nodes (4 cpu), 4 low-priority init pods per node
		// (900m each, priority 0: the nodes are full for a 3970m pod), then as many high-priority pods (priority
		// 9999999, 3970m) as nodes, each of which must preempt the 4 pods of a node.
		w.upstream = name + " (default_preemption/performance-config.yaml)"
		w.initPerNode = 4
		w.onePerNode = true
		return w, w.load(false, "templates/pod-low-priority.yaml", "default_preemption/templates/pod-high-priority.yaml")
	}
	return nil, fmt.Errorf("unknown workload %q (workloads: %s)", name, strings.Join(workloadNames, ", "))
}

// load reads the node template and the init and measured pods' templates of an upstream workload.
func (w *workload) load(zoned bool, initPath, measuredPath string) error {
	var tmpl corev1.Node
	if err := readTemplate("templates/node-default.yaml", &tmpl); err != nil {
		return err
	}
	w.node = func(i int, now time.Time) *corev1.Node { return upstreamNode(&tmpl, zoned, i, now) }
	w.observation = upstreamObservation
	for _, t := range []struct {
		path string
		into **corev1.Pod
	}{{initPath, &w.initPod}, {measuredPath, &w.measured}} {
		pod := &corev1.Pod{}
		if err := readTemplate(t.path, pod); err != nil {
			return err
		}
		if pc := priorityClassFor(pod); pc != nil {
			w.priorityClasses = append(w.priorityClasses, pc)
		}
		*t.into = pod
	}
	return nil
}

// readTemplate decodes an embedded template.
func readTemplate(path string, into any) error {
	data, err := upstreamTemplates.ReadFile("testdata/" + path)
	if err != nil {
		return fmt.Errorf("read template %s: %w", path, err)
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		return fmt.Errorf("decode template %s: %w", path, err)
	}
	return nil
}

// priorityClassFor turns a template's spec.priority into a PriorityClass of that value, named in the template
// instead. Upstream's apiserver runs without the Priority admission plugin, which refuses a spec.priority that no
// class gives (schedperf's runs with the plugins of berth up); the pods end up with the same priority.
func priorityClassFor(pod *corev1.Pod) *schedulingv1.PriorityClass {
	if pod.Spec.Priority == nil || pod.Spec.PriorityClassName != "" {
		return nil
	}
	value := *pod.Spec.Priority
	pc := &schedulingv1.PriorityClass{
		ObjectMeta:  metav1.ObjectMeta{Name: "schedperf-priority-" + strconv.Itoa(int(value))},
		Value:       value,
		Description: "schedperf: the spec.priority of an upstream scheduler_perf template",
	}
	pod.Spec.PriorityClassName = pc.Name
	pod.Spec.Priority = nil
	return pc
}

// initPods is how many init pods the cluster holds at nodes nodes.
func (w *workload) initPods(nodes int) int { return w.initPerNode * nodes }

// measuredPods is how many pods a round measures: pods, but no more than the nodes when each takes a whole node.
func (w *workload) measuredPods(nodes, pods int) int {
	if w.onePerNode {
		return min(nodes, pods)
	}
	return pods
}

// describe names the workload and its pods at a node count, for the results.
func (w *workload) describe(nodes, pods int) string {
	if w.initPerNode == 0 {
		return fmt.Sprintf("%d nodes, %d pending pods", nodes, pods)
	}
	return fmt.Sprintf("%s, %d nodes, %d init + %d measured pods", w.name, nodes, w.initPods(nodes), w.measuredPods(nodes, pods))
}

// newInitPod is init pod j, from the init template, and the node it is bound to.
func (w *workload) newInitPod(j, nodes int) (*corev1.Pod, string) {
	pod := fromTemplate(w.initPod, initPodName(j), corev1.DefaultSchedulerName, map[string]string{initLabel: "true"})
	return pod, nodeName(j % nodes)
}

// initPodName is the name of init pod j.
func initPodName(j int) string { return fmt.Sprintf("init-%06d", j) }

// newMeasuredPod is a measured pod of a round: the profile's schedulerName, and the round's label. The berth
// workload's pods are owned by owner.
func (w *workload) newMeasuredPod(name, profile, round string, owner *appsv1.ReplicaSet) *corev1.Pod {
	if w.measured == nil {
		return newPod(name, profile, round, owner)
	}
	return fromTemplate(w.measured, name, profile, map[string]string{roundLabel: round})
}

// fromTemplate is a pod of the template with a name, a scheduler and more labels. It does not mount a service
// account token (no controller-manager makes one here), as all of schedperf's pods.
func fromTemplate(tmpl *corev1.Pod, name, profile string, labels map[string]string) *corev1.Pod {
	pod := tmpl.DeepCopy()
	pod.GenerateName = ""
	pod.Name = name
	pod.Namespace = namespace
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	for k, v := range labels {
		pod.Labels[k] = v
	}
	pod.Spec.SchedulerName = profile
	pod.Spec.AutomountServiceAccountToken = ptrTo(false)
	return pod
}

// upstreamNode is fake node i of an upstream workload: the template's capacity (4 cpu, 32Gi, 110 pods) as
// allocatable too (as the API defaults it), Ready, one of upstream's three zones if zoned, and what makes it one of
// Berth's Podman nodes (the label, the host observation) with the labels a kubelet sets.
func upstreamNode(tmpl *corev1.Node, zoned bool, i int, now time.Time) *corev1.Node {
	n := tmpl.DeepCopy()
	n.GenerateName = ""
	n.Name = nodeName(i)
	n.Labels = nodeLabels(i)
	if zoned {
		n.Labels[corev1.LabelTopologyZone] = upstreamZones[i%len(upstreamZones)]
	}
	n.Annotations = upstreamObservation(i, now)
	n.Status.Allocatable = n.Status.Capacity.DeepCopy()
	for j := range n.Status.Conditions {
		if c := &n.Status.Conditions[j]; c.Type == corev1.NodeReady {
			ready := readyCondition(now)
			ready.Status = c.Status
			*c = ready
		}
	}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: n.Name}}
	n.Status.NodeInfo = nodeInfo()
	return n
}

// upstreamObservation is what a virtual kubelet reports about the Podman host of an upstream workload's node i
// (32Gi): 16 to 27 GiB available, more than any of its pods requests.
func upstreamObservation(i int, now time.Time) map[string]string {
	return map[string]string{
		wellknown.AnnotationFreeMemory: strconv.FormatInt(int64(16+i%12)<<30, 10),
		wellknown.AnnotationObservedAt: now.UTC().Format(time.RFC3339),
	}
}

// nodeLabels are the labels of every fake node: what a kubelet sets, Berth's Podman label, and schedperf's mark.
func nodeLabels(i int) map[string]string {
	return map[string]string{
		corev1.LabelHostname:   nodeName(i),
		wellknown.LabelPodman:  "true",
		corev1.LabelOSStable:   "linux",
		corev1.LabelArchStable: "amd64",
		fakeLabel:              "true",
	}
}

// parseWorkloads reads --workload: a comma-separated list of known workloads, each once.
func parseWorkloads(s string) ([]string, error) {
	var out []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		i := slices.IndexFunc(workloadNames, func(n string) bool { return strings.EqualFold(n, name) })
		if i < 0 {
			return nil, fmt.Errorf("--workload: unknown workload %q (workloads: %s)", name, strings.Join(workloadNames, ", "))
		}
		if slices.Contains(out, workloadNames[i]) {
			return nil, fmt.Errorf("--workload: %s given twice", workloadNames[i])
		}
		out = append(out, workloadNames[i])
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--workload: no workload given (workloads: %s)", strings.Join(workloadNames, ", "))
	}
	return out, nil
}
