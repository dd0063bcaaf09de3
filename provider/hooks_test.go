package provider

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2/ktesting"
)

func execHook(cmd ...string) *corev1.LifecycleHandler {
	return &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: cmd}}
}

func TestPostStartBlocksRunning(t *testing.T) {
	h, ev := probeHarness(t)
	release := make(chan struct{})
	h.fake.setExec(func(ctx context.Context, _ string, cmd []string) (int, string, error) {
		if cmd[0] == "hook" {
			select {
			case <-release:
			case <-ctx.Done():
				return 0, "", ctx.Err()
			}
		}
		return 0, "", nil
	})
	c := testContainer("a", "busybox")
	c.Lifecycle = &corev1.Lifecycle{PostStart: execHook("hook")}
	pod := lifecyclePod("poststart", corev1.RestartPolicyAlways, nil, c)
	h.create(pod)

	name := ctrName(pod, "a", 1)
	h.poll("the postStart hook", func() bool { return h.execCalls(name+" hook") == 1 })
	during, err := h.p.GetPod(h.ctx, pod.Namespace, pod.Name)
	if err != nil {
		t.Fatal(err)
	}
	a := statusOf(during, "a")
	if !waitingFor(during, "a", "ContainerCreating") || a.Ready || *a.Started || during.Status.Phase != corev1.PodPending {
		t.Errorf("during postStart: phase %s, container %+v; want Pending and waiting in ContainerCreating", during.Status.Phase, a)
	}
	if !ev.has("Normal Started Started container a") {
		t.Errorf("no Started event before postStart ended; events:\n%s", ev)
	}
	close(release)
	h.waitReported(pod, 0, "Running and ready", func(p *corev1.Pod) bool {
		return isRunning(p, "a") && statusOf(p, "a").Ready && p.Status.Phase == corev1.PodRunning
	})
}

func TestPostStartFailureKillsAndRestarts(t *testing.T) {
	h, ev := probeHarness(t)
	pod := lifecyclePod("poststartfail", corev1.RestartPolicyAlways, nil)
	first := ctrName(pod, "a", 1)
	h.fake.setExec(func(_ context.Context, name string, _ []string) (int, string, error) {
		if name == first {
			return 2, "boom", nil
		}
		return 0, "", nil
	})
	c := testContainer("a", "busybox")
	c.Lifecycle = &corev1.Lifecycle{PostStart: execHook("hook")}
	pod.Spec.Containers = []corev1.Container{c}
	h.create(pod)

	h.waitReported(pod, 0, "restarted and running", func(p *corev1.Pod) bool {
		return isRunning(p, "a") && statusOf(p, "a").RestartCount == 1
	})
	for _, want := range []string{"Warning FailedPostStartHook PostStartHook failed", "Normal Killing FailedPostStartHook"} {
		if !ev.has(want) {
			t.Errorf("no event %q; events:\n%s", want, ev)
		}
	}
	// The failed run was never reported running.
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.seen {
		if a := statusOf(p, "a"); a.State.Running != nil && a.ContainerID == "podman://"+h.fake.lookupContainer(first).id {
			t.Errorf("the container whose postStart failed was reported running: %+v", a)
		}
	}
}

func TestPreStopRunsBeforeStopOnDelete(t *testing.T) {
	h, _ := probeHarness(t)
	c := testContainer("a", "busybox")
	c.Lifecycle = &corev1.Lifecycle{PreStop: execHook("bye")}
	pod := lifecyclePod("prestop", corev1.RestartPolicyAlways, nil, c)
	h.create(pod)
	name := ctrName(pod, "a", 1)
	h.waitContainer(name, "running")
	if err := h.p.DeletePod(h.ctx, pod); err != nil {
		t.Fatal(err)
	}
	h.poll("the pod to be removed", func() bool { return len(h.fake.callsTo("RemovePod")) > 0 })
	h.fake.mu.Lock()
	calls := slices.Clone(h.fake.calls)
	h.fake.mu.Unlock()
	hook := slices.Index(calls, fakeCall{Method: "Exec", Arg: name + " bye"})
	stop := slices.IndexFunc(calls, func(c fakeCall) bool { return c.Method == "StopContainer" })
	if hook < 0 || stop < 0 || hook > stop {
		t.Errorf("preStop exec at %d, stop at %d; want the hook first: %v", hook, stop, calls)
	}
}

func TestPreStopGracePeriod(t *testing.T) {
	tests := []struct {
		name      string
		hook      *corev1.LifecycleHandler
		fail      bool
		grace     time.Duration
		want      time.Duration
		wantEvent bool
	}{
		{name: "no hook", grace: 30 * time.Second, want: 30 * time.Second},
		{name: "no hook, short grace", grace: 0, want: minGracePeriod},
		{name: "sleep takes its time off", hook: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 1}}, grace: 5 * time.Second, want: 4 * time.Second},
		{name: "hook outliving the grace period", hook: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 30}}, grace: time.Second, want: minGracePeriod},
		{name: "failing exec", hook: execHook("false"), fail: true, grace: 10 * time.Second, want: 10 * time.Second, wantEvent: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			fake := newFakeRuntime("busybox")
			fake.setExec(func(context.Context, string, []string) (int, string, error) {
				if tc.fail {
					return 1, "", nil
				}
				return 0, "", nil
			})
			fake.containers["c1"] = &fakeContainer{id: "c1", status: "running"}
			ev := &eventLog{}
			p := New(Config{Runtime: fake, Recorder: ev})
			spec := testContainer("a", "busybox")
			if tc.hook != nil {
				spec.Lifecycle = &corev1.Lifecycle{PreStop: tc.hook}
			}
			r := newPodRecord(lifecyclePod("p", corev1.RestartPolicyAlways, nil, spec), "p")
			if got := p.worker(r).preStop(ctx, r.app[0], "c1", tc.grace); got != tc.want {
				t.Errorf("grace left = %s, want %s", got, tc.want)
			}
			if got := ev.has("Warning FailedPreStopHook PreStopHook failed"); got != tc.wantEvent {
				t.Errorf("FailedPreStopHook event %v, want %v; events:\n%s", got, tc.wantEvent, ev)
			}
		})
	}
}

// TestSidecarsStopAfterMainContainers deletes a pod with two sidecars: the main container stops first (its preStop
// hook may still need them), then the sidecars in reverse order, as the kubelet's termination ordering has it.
func TestSidecarsStopAfterMainContainers(t *testing.T) {
	h, _ := probeHarness(t)
	always := corev1.ContainerRestartPolicyAlways
	sideA, sideB := testContainer("side-a", "busybox"), testContainer("side-b", "busybox")
	sideA.RestartPolicy, sideB.RestartPolicy = &always, &always
	app := testContainer("app", "busybox")
	app.Lifecycle = &corev1.Lifecycle{PreStop: execHook("bye")}
	pod := lifecyclePod("order", corev1.RestartPolicyAlways, []corev1.Container{sideA, sideB}, app)
	h.create(pod)
	for _, c := range []string{"side-a", "side-b", "app"} {
		h.waitContainer(ctrName(pod, c, 1), "running")
	}
	var want []string
	h.fake.mu.Lock()
	for _, c := range []string{"app", "side-b", "side-a"} {
		want = append(want, h.fake.lookupContainer(ctrName(pod, c, 1)).id)
	}
	h.fake.mu.Unlock()
	if err := h.p.DeletePod(h.ctx, pod); err != nil {
		t.Fatal(err)
	}
	h.poll("the pod to be removed", func() bool { return len(h.fake.callsTo("RemovePod")) > 0 })
	if got := h.fake.callsTo("StopContainer"); !slices.Equal(got, want) {
		t.Errorf("stopped %q, want %q (app, then side-b, then side-a)", got, want)
	}
}

// TestSidecarsStopInReverseWhenPodFinishes lets a pod of restartPolicy Never finish: its sidecars stop after it,
// the later one first.
func TestSidecarsStopInReverseWhenPodFinishes(t *testing.T) {
	h, _ := probeHarness(t)
	always := corev1.ContainerRestartPolicyAlways
	sideA, sideB := testContainer("side-a", "busybox"), testContainer("side-b", "busybox")
	sideA.RestartPolicy, sideB.RestartPolicy = &always, &always
	pod := lifecyclePod("finish-order", corev1.RestartPolicyNever, []corev1.Container{sideA, sideB}, testContainer("app", "busybox"))
	h.create(pod)
	for _, c := range []string{"side-a", "side-b", "app"} {
		h.waitContainer(ctrName(pod, c, 1), "running")
	}
	var want []string
	h.fake.mu.Lock()
	for _, c := range []string{"side-b", "side-a"} {
		want = append(want, h.fake.lookupContainer(ctrName(pod, c, 1)).id)
	}
	h.fake.mu.Unlock()
	h.fake.exit(t, ctrName(pod, "app", 1), 0)
	h.poll("both sidecars to be stopped", func() bool { return len(h.fake.callsTo("StopContainer")) >= 2 })
	if got := h.fake.callsTo("StopContainer"); !slices.Equal(got, want) {
		t.Errorf("stopped %q, want %q (side-b, then side-a)", got, want)
	}
}

// TestHTTPHook checks an httpGet hook's request as the kubelet makes it: path, port (by number or by the
// container's port name), headers, to the pod's IP unless the hook names a host, in HTTPS when asked (retried in
// HTTP, with a LifecycleHTTPFallback event, when the server answers in plain HTTP), and in HTTP/1.1 whatever
// protocol it names, as the kubelet's hooks; any response succeeds.
func TestHTTPHook(t *testing.T) {
	got := make(chan *http.Request, 1)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r
		w.WriteHeader(http.StatusInternalServerError)
	})
	srv := httptest.NewServer(handler)
	defer srv.Close()
	tlsSrv := httptest.NewTLSServer(handler)
	defer tlsSrv.Close()
	port := func(s *httptest.Server) int32 { return int32(s.Listener.Addr().(*net.TCPAddr).Port) }
	http2 := corev1.HTTPProtocolHTTP2
	tests := []struct {
		name       string
		podIP      string
		get        corev1.HTTPGetAction
		wantPath   string
		wantHeader string
		wantTLS    bool
		wantEvent  string
	}{
		{name: "to the pod's IP, by port name, with headers", podIP: "127.0.0.1",
			get:      corev1.HTTPGetAction{Path: "/hook", Port: intstr.FromString("web"), HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Hook", Value: "yes"}}},
			wantPath: "/hook", wantHeader: "yes"},
		{name: "to its host", podIP: "192.0.2.1", get: corev1.HTTPGetAction{Path: "/elsewhere", Port: intstr.FromInt32(port(srv)), Host: "127.0.0.1"}, wantPath: "/elsewhere"},
		{name: "https", podIP: "127.0.0.1", get: corev1.HTTPGetAction{Path: "/tls", Port: intstr.FromInt32(port(tlsSrv)), Scheme: corev1.URISchemeHTTPS},
			wantPath: "/tls", wantTLS: true},
		{name: "https answered in http", podIP: "127.0.0.1", get: corev1.HTTPGetAction{Path: "/plain", Port: intstr.FromInt32(port(srv)), Scheme: corev1.URISchemeHTTPS},
			wantPath: "/plain", wantEvent: "Warning LifecycleHTTPFallback"},
		{name: "protocol HTTP2 is still HTTP/1.1", podIP: "127.0.0.1", get: corev1.HTTPGetAction{Path: "/h2", Port: intstr.FromInt32(port(srv)), Protocol: &http2}, wantPath: "/h2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := record.NewFakeRecorder(10)
			p := New(Config{Recorder: rec})
			c := &corev1.Container{Name: "app", Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: port(srv)}}}
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}, Spec: corev1.PodSpec{Containers: []corev1.Container{*c}}}
			r := &podRecord{pod: pod, podIP: tc.podIP}
			if err := p.worker(r).runHTTPHandler(context.Background(), &containerRecord{spec: c}, &tc.get); err != nil {
				t.Fatalf("hook failed: %v", err)
			}
			var req *http.Request
			for len(got) > 0 {
				req = <-got // the last request: after a fallback, the plain one
			}
			switch {
			case req == nil:
				t.Fatal("no request")
			case req.URL.Path != tc.wantPath || req.Header.Get("X-Hook") != tc.wantHeader || (req.TLS != nil) != tc.wantTLS || req.ProtoMajor != 1:
				t.Errorf("request %s %s (TLS %v, X-Hook %q), want path %s, TLS %v, X-Hook %q over HTTP/1",
					req.Proto, req.URL.Path, req.TLS != nil, req.Header.Get("X-Hook"), tc.wantPath, tc.wantTLS, tc.wantHeader)
			}
			var event string
			if len(rec.Events) > 0 {
				event = <-rec.Events
			}
			if !strings.HasPrefix(event, tc.wantEvent) || (tc.wantEvent == "" && event != "") {
				t.Errorf("event %q, want %q", event, tc.wantEvent)
			}
		})
	}
}
