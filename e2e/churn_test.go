package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/berth-dev/berth/provider/podman"
)

// Labels of the churn tests' pods (and of their Jobs' pod templates).
const (
	churnKindLabel = "churn.berth.dev/kind"
	churnWaveLabel = "churn.berth.dev/wave"
)

// What a churn pod does.
const (
	// churnJob is a Job's pod that exits 0: Succeeded, its Job Complete.
	churnJob = "job"
	// churnRunner sleeps: Running until deleted.
	churnRunner = "runner"
	// churnCrasher exits 1 under restartPolicy Always: CrashLoopBackOff and restarts until deleted.
	churnCrasher = "crasher"
)

// TestChurnSoak runs 500 pods through one node in waves of 50 — Jobs that complete, long runners and crash-looping
// pods — each wave created, seen in its target state, deleted and gone before the next. Afterwards every pod
// object must have reached its target state before it was deleted and be gone; Podman must hold no pod, container
// or volume of them and the kubelet root folder no pods/<uid>; and the node's berth-kubelet must be back near the
// goroutines and memory it had after a warm-up wave.
func TestChurnSoak(t *testing.T) {
	const (
		waves    = 10
		runners  = 17
		crashers = 17
		jobs     = 16 // 50 a wave, 500 in all
	)
	const nodeIndex = 0
	ctx := context.Background()
	c, rt := newChurner(t, nodeIndex)
	ns, node, tr := c.ns, c.node, c.tracker
	volumes0 := podmanCount(t, nodeIndex, "volume", "ls", "-q")
	containers0 := podmanCount(t, nodeIndex, "ps", "-a", "-q")

	var base kubeletUsage
	start := time.Now()
	for w := range waves {
		c.cycle(w, runners, crashers, jobs)
		if w == 0 {
			// The warm-up wave made the connections and caches that stay; what remains after it is the baseline,
			// the lowest of a few samples (the deleted pods' last goroutines end).
			base = readKubeletUsage(t, node)
			for range 5 {
				time.Sleep(2 * time.Second)
				u := readKubeletUsage(t, node)
				base.goroutines, base.rss = min(base.goroutines, u.goroutines), min(base.rss, u.rss)
			}
			t.Logf("berth-kubelet after the warm-up wave: %s", base)
		}
	}
	t.Logf("%d pods in %d waves in %s", waves*(runners+crashers+jobs), waves, time.Since(start).Round(time.Second))

	tr.checkAll(t, waves*(runners+crashers+jobs))
	checkNoLeftovers(t, ctx, rt, ns, nodeIndex, tr)
	if n := podmanCount(t, nodeIndex, "volume", "ls", "-q"); n > volumes0 {
		t.Errorf("Podman volumes on node %s: %d after the churn, %d before", node, n, volumes0)
	}
	if n := podmanCount(t, nodeIndex, "ps", "-a", "-q"); n > containers0 {
		t.Errorf("Podman containers on node %s: %d after the churn, %d before", node, n, containers0)
	}

	// Exits, streams and timers end asynchronously: the counts have some time to come back.
	maxGoroutines := base.goroutines + max(50, base.goroutines/5)
	maxRSS := base.rss + base.rss/2
	var now kubeletUsage
	_ = wait.PollUntilContextTimeout(ctx, 2*time.Second, 60*time.Second, true, func(context.Context) (bool, error) {
		now = readKubeletUsage(t, node)
		return now.goroutines <= maxGoroutines && now.rss <= maxRSS, nil
	})
	t.Logf("berth-kubelet after the churn: %s", now)
	if now.goroutines > maxGoroutines {
		t.Errorf("berth-kubelet has %d goroutines after the churn, %d after the warm-up (at most %d allowed)", now.goroutines, base.goroutines, maxGoroutines)
	}
	if now.rss > maxRSS {
		t.Errorf("berth-kubelet's RSS is %d MiB after the churn, %d MiB after the warm-up (at most %d MiB allowed)", now.rss>>20, base.rss>>20, maxRSS>>20)
	}
}

// churner creates and deletes waves of churn pods on one node.
type churner struct {
	t       *testing.T
	ns      string
	node    string
	tracker *podTracker
}

// newChurner makes the test's namespace, follows its pods, and returns a churner of them on node i with the node's
// Podman.
func newChurner(t *testing.T, i int) (*churner, podman.Runtime) {
	t.Helper()
	ns := namespace(t)
	rt, err := podman.Dial(context.Background(), testCluster.PodmanURLs()[i])
	if err != nil {
		t.Fatal(err)
	}
	return &churner{t: t, ns: ns, node: testCluster.NodeNames()[i], tracker: trackPods(t, ns)}, rt
}

// cycle runs one wave through: created, in their target states, deleted, gone; and logs how long each step took.
func (c *churner) cycle(w, runners, crashers, jobs int) {
	c.t.Helper()
	t0 := time.Now()
	c.create(w, runners, crashers, jobs)
	t1 := time.Now()
	c.waitReached(w, runners+crashers+jobs, 3*time.Minute)
	t2 := time.Now()
	c.deleteWave(w)
	c.waitGone(w, 2*time.Minute)
	t3 := time.Now()
	c.t.Logf("wave %d: %d pods created in %s, in their target states after %s (%s), deleted and gone after %s (%s in all)",
		w, runners+crashers+jobs, t1.Sub(t0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond), c.tracker.reachTimes(w, t0),
		t3.Sub(t2).Round(time.Millisecond), t3.Sub(t0).Round(time.Millisecond))
}

// create makes a wave's pods and Jobs, a few at a time.
func (c *churner) create(w, runners, crashers, jobs int) {
	c.t.Helper()
	ctx := context.Background()
	type item struct {
		kind string
		i    int
	}
	// Crashers first: their 10 s back-off before the restart they must show overlaps the others' start.
	var items []item
	for i := range crashers {
		items = append(items, item{churnCrasher, i})
	}
	for i := range jobs {
		items = append(items, item{churnJob, i})
	}
	for i := range runners {
		items = append(items, item{churnRunner, i})
	}
	work := make(chan item)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for it := range work {
				name := fmt.Sprintf("w%d-%s-%d", w, it.kind, it.i)
				var err error
				if it.kind == churnJob {
					_, err = client.BatchV1().Jobs(c.ns).Create(ctx, churnJobObject(name, c.node, w), metav1.CreateOptions{})
				} else {
					_, err = client.CoreV1().Pods(c.ns).Create(ctx, churnPod(name, c.node, it.kind, w), metav1.CreateOptions{})
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("create %s: %w", name, err))
					mu.Unlock()
				}
			}
		})
	}
	for _, it := range items {
		work <- it
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.t.Fatal(err)
	}
}

// waitReached waits until n pods of wave w that are not deleted are in their target states (the Jobs' pods
// counted once they exist), and their Jobs Complete.
func (c *churner) waitReached(w, n int, timeout time.Duration) {
	c.t.Helper()
	c.tracker.wait(c.t, timeout, fmt.Sprintf("the %d pods of wave %d in their target states", n, w), func(pods []*trackedPod) bool {
		reached := 0
		for _, p := range pods {
			if p.wave == w && p.reached && !p.deleted {
				reached++
			}
		}
		return reached >= n
	}, func(p *trackedPod) bool { return p.wave == w && !p.reached && !p.deleted })
	ctx := context.Background()
	jobs, err := client.BatchV1().Jobs(c.ns).List(ctx, metav1.ListOptions{LabelSelector: churnWaveLabel + "=" + strconv.Itoa(w)})
	if err != nil {
		c.t.Fatal(err)
	}
	// The Job controller marks a Job Complete once it saw its pod succeed.
	for _, j := range jobs.Items {
		err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			cur, err := client.BatchV1().Jobs(c.ns).Get(ctx, j.Name, metav1.GetOptions{})
			return err == nil && jobComplete(cur), nil
		})
		if err != nil {
			c.t.Errorf("Job %s did not complete", j.Name)
		}
	}
}

func jobComplete(j *batchv1.Job) bool {
	for _, cond := range j.Status.Conditions {
		if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// deleteWave deletes a wave's pods and Jobs (whose pods the garbage collector deletes).
func (c *churner) deleteWave(w int) {
	c.t.Helper()
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: churnWaveLabel + "=" + strconv.Itoa(w)}
	bg := metav1.DeletePropagationBackground
	if err := client.BatchV1().Jobs(c.ns).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &bg}, sel); err != nil {
		c.t.Fatal(err)
	}
	sel.LabelSelector += "," + churnKindLabel + "!=" + churnJob
	if err := client.CoreV1().Pods(c.ns).DeleteCollection(ctx, metav1.DeleteOptions{}, sel); err != nil {
		c.t.Fatal(err)
	}
}

// waitGone waits until every pod of wave w seen so far is deleted and no Job of it is left.
func (c *churner) waitGone(w int, timeout time.Duration) {
	c.t.Helper()
	c.tracker.wait(c.t, timeout, fmt.Sprintf("the pods of wave %d gone", w), func(pods []*trackedPod) bool {
		for _, p := range pods {
			if p.wave == w && !p.deleted {
				return false
			}
		}
		jobs, err := client.BatchV1().Jobs(c.ns).List(context.Background(), metav1.ListOptions{LabelSelector: churnWaveLabel + "=" + strconv.Itoa(w)})
		return err == nil && len(jobs.Items) == 0
	}, func(p *trackedPod) bool { return p.wave == w && !p.deleted })
}

// churnPod is a churn pod of a kind, bound to node.
func churnPod(name, node, kind string, wave int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{churnKindLabel: kind, churnWaveLabel: strconv.Itoa(wave)}},
		Spec:       churnPodSpec(node, kind),
	}
}

func churnPodSpec(node, kind string) corev1.PodSpec {
	spec := corev1.PodSpec{
		NodeName:                      node,
		TerminationGracePeriodSeconds: new(int64(2)),
		Containers:                    []corev1.Container{{Name: "main", Image: busybox, ImagePullPolicy: corev1.PullIfNotPresent}},
	}
	switch kind {
	case churnJob:
		spec.RestartPolicy = corev1.RestartPolicyNever
		spec.Containers[0].Command = []string{"true"}
	case churnRunner:
		spec.RestartPolicy = corev1.RestartPolicyAlways
		spec.Containers[0].Command = []string{"sleep", "3600"}
	case churnCrasher:
		spec.RestartPolicy = corev1.RestartPolicyAlways
		spec.Containers[0].Command = []string{"sh", "-c", "exit 1"}
	}
	return spec
}

// churnJobObject is a Job of one pod that exits 0 on node.
func churnJobObject(name, node string, wave int) *batchv1.Job {
	labels := map[string]string{churnKindLabel: churnJob, churnWaveLabel: strconv.Itoa(wave)}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: batchv1.JobSpec{
			BackoffLimit: new(int32(0)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       churnPodSpec(node, churnJob),
			},
		},
	}
}

// trackedPod is what a podTracker saw of one pod object.
type trackedPod struct {
	uid  types.UID
	name string
	kind string
	wave int
	// reached is set once the pod showed its kind's target state while not being deleted (at reachedAt); backoff
	// once it showed CrashLoopBackOff.
	reached, backoff bool
	reachedAt        time.Time
	// restarts is the highest restartCount seen of each container; regressed describes a later status that showed
	// a lower one.
	restarts  map[string]int32
	regressed string
	// failed describes a status of phase Failed seen while the pod was not being deleted (none of the churn pods
	// should fail).
	failed  string
	deleted bool
	last    *corev1.Pod
}

// podTracker follows every pod of a namespace with an informer, from the start of a test.
type podTracker struct {
	mu   sync.Mutex
	pods map[types.UID]*trackedPod
}

// trackPods starts following the pods of ns until the test ends.
func trackPods(t *testing.T, ns string) *podTracker {
	t.Helper()
	tr := &podTracker{pods: map[types.UID]*trackedPod{}}
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns))
	inf := f.Core().V1().Pods().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { tr.observe(obj, false) },
		UpdateFunc: func(_, obj any) { tr.observe(obj, false) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			tr.observe(obj, true)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	f.Start(stop)
	if !cache.WaitForCacheSync(stop, inf.HasSynced) {
		t.Fatal("pod informer did not sync")
	}
	return tr
}

func (tr *podTracker) observe(obj any, deleted bool) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	p := tr.pods[pod.UID]
	if p == nil {
		wave, _ := strconv.Atoi(pod.Labels[churnWaveLabel])
		p = &trackedPod{uid: pod.UID, name: pod.Name, kind: pod.Labels[churnKindLabel], wave: wave, restarts: map[string]int32{}}
		tr.pods[pod.UID] = p
	}
	p.last = pod
	if deleted {
		p.deleted = true
		return
	}
	for _, s := range pod.Status.ContainerStatuses {
		if s.State.Waiting != nil && s.State.Waiting.Reason == "CrashLoopBackOff" {
			p.backoff = true
		}
		if s.RestartCount < p.restarts[s.Name] && p.regressed == "" {
			p.regressed = fmt.Sprintf("container %s: restartCount %d after %d", s.Name, s.RestartCount, p.restarts[s.Name])
		}
		p.restarts[s.Name] = max(p.restarts[s.Name], s.RestartCount)
	}
	if pod.DeletionTimestamp != nil {
		return
	}
	if pod.Status.Phase == corev1.PodFailed && p.failed == "" {
		p.failed = describeStatus(pod)
	}
	if !p.reached && churnReached(p, pod) {
		p.reached, p.reachedAt = true, time.Now()
	}
}

// reachTimes says, for each kind of wave w's pods, how long after since the last of them reached its target state.
func (tr *podTracker) reachTimes(w int, since time.Time) string {
	last := map[string]time.Time{}
	for _, p := range tr.snapshot() {
		if p.wave == w && p.reached && p.reachedAt.After(last[p.kind]) {
			last[p.kind] = p.reachedAt
		}
	}
	var parts []string
	for _, k := range []string{churnCrasher, churnJob, churnRunner} {
		if t, ok := last[k]; ok {
			parts = append(parts, fmt.Sprintf("%ss %s", k, t.Sub(since).Round(100*time.Millisecond)))
		}
	}
	return strings.Join(parts, ", ")
}

// churnReached tells whether a pod shows its kind's target state.
func churnReached(p *trackedPod, pod *corev1.Pod) bool {
	if len(pod.Status.ContainerStatuses) != 1 {
		return false
	}
	st := pod.Status.ContainerStatuses[0]
	switch p.kind {
	case churnJob:
		// A container that ran: a kubelet reports when it started.
		term := st.State.Terminated
		return pod.Status.Phase == corev1.PodSucceeded && term != nil && term.ExitCode == 0 && term.Reason == "Completed" && !term.StartedAt.IsZero()
	case churnRunner:
		return pod.Status.Phase == corev1.PodRunning && st.State.Running != nil && st.Ready
	case churnCrasher:
		return pod.Status.Phase == corev1.PodRunning && st.RestartCount >= 1 && p.backoff &&
			st.LastTerminationState.Terminated != nil && st.LastTerminationState.Terminated.ExitCode == 1
	}
	return false
}

// snapshot copies the tracked pods.
func (tr *podTracker) snapshot() []*trackedPod {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make([]*trackedPod, 0, len(tr.pods))
	for _, p := range tr.pods {
		c := *p
		c.restarts = maps.Clone(p.restarts)
		out = append(out, &c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// wait polls the tracked pods until cond holds, or fails the test after timeout listing the pods pending says
// are the ones still awaited.
func (tr *podTracker) wait(t *testing.T, timeout time.Duration, what string, cond func([]*trackedPod) bool, pending func(*trackedPod) bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		return cond(tr.snapshot()), nil
	})
	if err == nil {
		return
	}
	var lines []string
	for _, p := range tr.snapshot() {
		if pending(p) && len(lines) < 10 {
			lines = append(lines, fmt.Sprintf("  %s (%s): deleted=%v %s", p.name, p.kind, p.deleted, describeStatus(p.last)))
		}
	}
	t.Fatalf("%s: not within %s; for example:\n%s", what, timeout, strings.Join(lines, "\n"))
}

// checkAll checks that n pods were seen, that every one reached its target state, and is gone, and that none
// reported Failed before its deletion.
func (tr *podTracker) checkAll(t *testing.T, n int) {
	t.Helper()
	pods := tr.snapshot()
	if len(pods) != n {
		t.Errorf("%d pod objects seen, want %d", len(pods), n)
	}
	bad := 0
	for _, p := range pods {
		var problems []string
		if !p.reached {
			problems = append(problems, "never reached its target state")
		}
		if !p.deleted {
			problems = append(problems, "not deleted")
		}
		if p.failed != "" {
			problems = append(problems, "reported Failed: "+p.failed)
		}
		if p.regressed != "" {
			problems = append(problems, p.regressed)
		}
		if len(problems) > 0 {
			if bad++; bad <= 20 {
				t.Errorf("pod %s (%s): %s; last seen: %s", p.name, p.kind, strings.Join(problems, "; "), describeStatus(p.last))
			}
		}
	}
}

// checkFalseFailures fails the test for every pod seen Failed while it was not being deleted, or whose
// restartCount went down.
func (tr *podTracker) checkFalseFailures(t *testing.T) {
	t.Helper()
	for _, p := range tr.snapshot() {
		if p.failed != "" {
			t.Errorf("pod %s (%s) reported Failed: %s", p.name, p.kind, p.failed)
		}
		if p.regressed != "" {
			t.Errorf("pod %s (%s): %s", p.name, p.kind, p.regressed)
		}
	}
}

// checkNoLeftovers checks that node i's Podman has no pod or container of namespace ns and the node's kubelet root
// folder no pods/<uid> of the tracked pods (a deleted pod's object may go a moment before its folder: they have a
// little time).
func checkNoLeftovers(t *testing.T, ctx context.Context, rt podman.Runtime, ns string, i int, tr *podTracker) {
	t.Helper()
	labels := map[string]string{podman.LabelNamespace: ns}
	root := testCluster.KubeletRootDir(i)
	var pods []podman.PodInfo
	var ctrs []podman.ContainerInfo
	var dirs []*trackedPod
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		if pods, err = rt.ListPods(ctx, labels); err != nil {
			return false, err
		}
		if ctrs, err = rt.ListContainers(ctx, labels); err != nil {
			return false, err
		}
		dirs = nil
		for _, p := range tr.snapshot() {
			if _, err := os.Stat(filepath.Join(root, "pods", string(p.uid))); !errors.Is(err, fs.ErrNotExist) {
				dirs = append(dirs, p)
			}
		}
		return len(pods) == 0 && len(ctrs) == 0 && len(dirs) == 0, nil
	})
	if err == nil {
		return
	}
	t.Errorf("node %d still has %d Podman pods, %d Podman containers and %d pod folders of namespace %s: %v", i, len(pods), len(ctrs), len(dirs), ns, err)
	for j, p := range pods {
		if j < 10 {
			t.Logf("  left Podman pod %s", p.Name)
		}
	}
	for j, c := range ctrs {
		if j < 10 {
			t.Logf("  left Podman container %s (%s)", c.Name, c.State)
		}
	}
	for j, p := range dirs {
		if j < 5 {
			t.Logf("  left %s of pod %s; the kubelet's log of the pod:\n%s", filepath.Join(root, "pods", string(p.uid)), p.name, kubeletLog(testCluster.NodeNames()[i], p.name, 30))
		}
	}
}

// kubeletLog returns the last n lines of a node's berth-kubelet log that mention what (n=0: the whole log).
func kubeletLog(node, what string, n int) string {
	b, err := os.ReadFile(filepath.Join(testCluster.Config().StateDir, "logs", "kubelet-"+node+".log"))
	if err != nil {
		return err.Error()
	}
	if n == 0 {
		return string(b)
	}
	var lines []string
	for l := range strings.Lines(string(b)) {
		if strings.Contains(l, what) {
			lines = append(lines, "    "+l)
		}
	}
	return strings.Join(lines[max(0, len(lines)-n):], "")
}

// podmanCount counts the lines podman prints for args against node i's Podman.
func podmanCount(t *testing.T, i int, args ...string) int {
	t.Helper()
	out, err := exec.Command("podman", append([]string{"--url", testCluster.PodmanURLs()[i]}, args...)...).Output()
	if err != nil {
		t.Fatalf("podman %s: %v", strings.Join(args, " "), err)
	}
	return len(strings.Fields(string(out)))
}

// kubeletUsage is what a berth-kubelet's /metrics says of its goroutines and resident memory.
type kubeletUsage struct {
	goroutines int
	rss        int64
}

func (u kubeletUsage) String() string {
	return fmt.Sprintf("%d goroutines, RSS %d MiB", u.goroutines, u.rss>>20)
}

// readKubeletUsage reads a node's berth-kubelet /metrics through the apiserver's node proxy.
func readKubeletUsage(t *testing.T, node string) kubeletUsage {
	t.Helper()
	raw, err := client.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/" + node + "/proxy/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("read /metrics of node %s: %v", node, err)
	}
	var u kubeletUsage
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_goroutines":
			u.goroutines = int(f)
			found++
		case "process_resident_memory_bytes":
			u.rss = int64(f)
			found++
		}
	}
	if found != 2 {
		t.Fatalf("/metrics of node %s lacks go_goroutines or process_resident_memory_bytes:\n%.2000s", node, raw)
	}
	return u
}

// TestKillDashNineMidChurn kills a node's berth-kubelet with SIGKILL while a wave of pods comes up on it, deletes
// pods while it is down (some gracefully, some forcibly, a Job), stops one running container behind its back, and
// starts it again. The new process takes the node's lease over from the dead one at once; running containers are
// adopted (same container, same start, restartCount unchanged); the stopped one is restarted as its restart policy
// says; the deleted pods' Podman pods go; the interrupted wave comes up; crash-looping pods go on counting their
// restarts; and no pod ever reports Failed unless it is being deleted.
func TestKillDashNineMidChurn(t *testing.T) {
	const (
		nodeIndex = 1
		runners   = 10
		crashers  = 6
		jobs      = 6
		perWave   = runners + crashers + jobs
	)
	ctx := context.Background()
	c, rt := newChurner(t, nodeIndex)
	ns, node, tr := c.ns, c.node, c.tracker

	c.create(0, runners, crashers, jobs)
	c.waitReached(0, perWave, 3*time.Minute)
	// What the wave's runners and crashers look like before the kill, in Kubernetes and in Podman.
	type seen struct {
		status    corev1.ContainerStatus
		podmanRun time.Time
	}
	before := map[string]seen{}
	for _, p := range tr.snapshot() {
		if p.wave != 0 || p.kind == churnJob {
			continue
		}
		st := p.last.Status.ContainerStatuses[0]
		s := seen{status: st}
		if p.kind == churnRunner {
			ps, err := rt.InspectContainer(ctx, strings.TrimPrefix(st.ContainerID, "podman://"))
			if err != nil || !ps.Running {
				t.Fatalf("runner %s in Podman: %+v, %v", p.name, ps, err)
			}
			s.podmanRun = ps.StartedAt
		}
		before[p.name] = s
	}

	// The next wave starts; the kubelet is killed while its pods come up.
	c.create(1, runners, crashers, jobs)
	tr.wait(t, 2*time.Minute, "a few pods of wave 1 started", func(pods []*trackedPod) bool {
		started := 0
		for _, p := range pods {
			if p.wave == 1 && p.last != nil && len(p.last.Status.ContainerStatuses) == 1 && p.last.Status.ContainerStatuses[0].ContainerID != "" {
				started++
			}
		}
		return started >= 3
	}, func(p *trackedPod) bool { return p.wave == 1 })
	pid := testCluster.KubeletPID(nodeIndex)
	if err := testCluster.KillNode(nodeIndex); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed berth-kubelet (pid %d) of node %s with SIGKILL", pid, node)

	// While it is down: pods deleted gracefully (they wait for the kubelet), forcibly (gone at once), a Job
	// deleted (the garbage collector deletes its pod), and a running container stopped behind its back.
	gone := map[string]bool{}
	for name, grace := range map[string]*int64{
		"w0-runner-1": nil, "w0-runner-2": nil, "w0-crasher-0": nil,
		"w0-runner-3": new(int64(0)), "w0-crasher-1": new(int64(0)), "w1-runner-0": new(int64(0)), "w1-crasher-0": new(int64(0)),
	} {
		if err := client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: grace}); err != nil {
			t.Fatalf("delete %s: %v", name, err)
		}
		gone[name] = true
	}
	bg := metav1.DeletePropagationBackground
	if err := client.BatchV1().Jobs(ns).Delete(ctx, "w0-job-0", metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		t.Fatal(err)
	}
	enderID := strings.TrimPrefix(before["w0-runner-0"].status.ContainerID, "podman://")
	if err := rt.StopContainer(ctx, enderID, time.Second); err != nil {
		t.Fatal(err)
	}
	stopped, err := rt.InspectContainer(ctx, enderID)
	if err != nil || stopped.Running {
		t.Fatalf("stopped container: %+v, %v", stopped, err)
	}
	time.Sleep(3 * time.Second)

	restart := time.Now()
	if err := testCluster.StartNode(ctx, nodeIndex); err != nil {
		t.Fatalf("restart node %s after SIGKILL: %v", node, err)
	}
	t.Logf("berth-kubelet of node %s ready again after %s", node, time.Since(restart).Round(time.Millisecond))
	// The dead holder's lease is taken over at once (its process is known to be gone), not after watching it.
	logText := kubeletLog(node, "", 0)
	if i := strings.LastIndex(logText, "\n==== "); i >= 0 {
		logText = logText[i:] // this start's
	}
	if !strings.Contains(logText, "Taking over the node's lease from a berth-kubelet that has ended") || strings.Contains(logText, "waiting to see whether it is renewed") {
		t.Errorf("the restarted berth-kubelet did not take the lease over from the killed one at once; its log:\n%.3000s", logText)
	}

	// Deleted pods: their objects and Podman pods go.
	tr.wait(t, 90*time.Second, "the pods deleted while the kubelet was down gone", func(pods []*trackedPod) bool {
		for _, p := range pods {
			if (gone[p.name] || strings.HasPrefix(p.name, "w0-job-0-")) && !p.deleted {
				return false
			}
		}
		return true
	}, func(p *trackedPod) bool {
		return (gone[p.name] || strings.HasPrefix(p.name, "w0-job-0-")) && !p.deleted
	})
	for name := range gone {
		err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
			left, err := podmanPods(ctx, map[string]string{podman.LabelNamespace: ns, podman.LabelName: name})
			return err == nil && len(left) == 0, nil
		})
		if err != nil {
			t.Errorf("the Podman pod of %s, deleted while the kubelet was down, is left", name)
		}
	}

	// Runners that kept running: adopted as they are.
	for i := 4; i < runners; i++ {
		name := fmt.Sprintf("w0-runner-%d", i)
		b := before[name]
		p := waitPod(t, ns, name, time.Minute, "running, reported by the new kubelet", func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
		})
		got := p.Status.ContainerStatuses[0]
		if got.ContainerID != b.status.ContainerID || got.RestartCount != b.status.RestartCount || !got.State.Running.StartedAt.Equal(&b.status.State.Running.StartedAt) {
			t.Errorf("%s after the restart: container %s restarts %d started %v; before: %s restarts %d started %v", name,
				got.ContainerID, got.RestartCount, got.State.Running.StartedAt, b.status.ContainerID, b.status.RestartCount, b.status.State.Running.StartedAt)
		}
		ps, err := rt.InspectContainer(ctx, strings.TrimPrefix(b.status.ContainerID, "podman://"))
		if err != nil || !ps.Running || !ps.StartedAt.Equal(b.podmanRun) {
			t.Errorf("%s in Podman after the restart: %+v, %v; want the container started at %v, still running", name, ps, err, b.podmanRun)
		}
	}
	// The container that stopped while no kubelet ran is restarted as restartPolicy Always says, after the back-off.
	ender := waitPod(t, ns, "w0-runner-0", 90*time.Second, "restarted after its container stopped while the kubelet was down", func(p *corev1.Pod) bool {
		st := p.Status.ContainerStatuses
		return len(st) == 1 && st[0].State.Running != nil && st[0].RestartCount == 1
	}).Status.ContainerStatuses[0]
	if last := ender.LastTerminationState.Terminated; last == nil || last.ExitCode != stopped.ExitCode || last.ContainerID != "podman://"+enderID {
		t.Errorf("w0-runner-0 after the restart: lastState %+v, want the stopped container %s (exit %d)", ender.LastTerminationState, enderID, stopped.ExitCode)
	}
	// Crash-looping pods go on from their count.
	for i := 2; i < crashers; i++ {
		name := fmt.Sprintf("w0-crasher-%d", i)
		b := before[name].status.RestartCount
		waitPod(t, ns, name, 90*time.Second, fmt.Sprintf("restarted again after the kubelet's restart (restartCount above %d)", b), func(p *corev1.Pod) bool {
			st := p.Status.ContainerStatuses
			return len(st) == 1 && st[0].RestartCount > b
		})
	}
	// The interrupted wave comes up, but for the pods deleted meanwhile.
	c.waitReached(1, perWave-2, 3*time.Minute)

	// The node goes on working: one more wave through.
	c.cycle(2, runners, crashers, jobs)
	for w := range 2 {
		c.deleteWave(w)
		c.waitGone(w, 2*time.Minute)
	}
	tr.checkFalseFailures(t)
	checkNoLeftovers(t, ctx, rt, ns, nodeIndex, tr)
}
