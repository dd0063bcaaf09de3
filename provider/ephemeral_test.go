package provider

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/berth-dev/berth/provider/podspec"
	"github.com/berth-dev/berth/provider/podstatus"
)

func ephemeralContainer(name, image, target string) corev1.EphemeralContainer {
	return corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: name, Image: image, ImagePullPolicy: corev1.PullIfNotPresent},
		TargetContainerName:      target,
	}
}

// withEphemeral returns a copy of pod with the ephemeral containers added, as the ephemeralcontainers subresource
// makes it.
func withEphemeral(pod *corev1.Pod, ecs ...corev1.EphemeralContainer) *corev1.Pod {
	out := pod.DeepCopy()
	out.Spec.EphemeralContainers = append(out.Spec.EphemeralContainers, ecs...)
	return out
}

// update hands an updated pod to the provider, as virtual-kubelet's pod controller does.
func (h *harness) update(pod *corev1.Pod) {
	h.t.Helper()
	if err := h.p.UpdatePod(h.ctx, pod); err != nil {
		h.t.Fatalf("UpdatePod: %v", err)
	}
}

func ephemeralStatus(pod *corev1.Pod, name string) corev1.ContainerStatus {
	st, _ := podstatus.FindStatus(pod.Status.EphemeralContainerStatuses, name)
	return st
}

// containerNamed returns what the fake holds of the container named name.
func (f *fakeRuntime) containerNamed(t *testing.T, name string) fakeContainer {
	t.Helper()
	var out fakeContainer
	f.withContainer(t, name, func(c *fakeContainer) { out = *c })
	return out
}

// drainEvents returns the events recorded so far.
func drainEvents(rec *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case ev := <-rec.Events:
			out = append(out, ev)
		default:
			return out
		}
	}
}

func TestEphemeralStatuses(t *testing.T) {
	tests := []struct {
		name       string
		init       []corev1.Container
		ecs        []corev1.EphemeralContainer
		wantNames  []string
		wantReason string
	}{
		{name: "none", wantNames: nil},
		{name: "sorted by name, waiting to be created", ecs: []corev1.EphemeralContainer{ephemeralContainer("zz", "busybox", ""), ephemeralContainer("aa", "busybox", "a")},
			wantNames: []string{"aa", "zz"}, wantReason: "ContainerCreating"},
		{name: "pod with init containers", init: []corev1.Container{testContainer("i", "busybox")}, ecs: []corev1.EphemeralContainer{ephemeralContainer("dbg", "busybox", "")},
			wantNames: []string{"dbg"}, wantReason: "PodInitializing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := withEphemeral(lifecyclePod("p", corev1.RestartPolicyAlways, tc.init, testContainer("a", "busybox")), tc.ecs...)
			r := newPodRecord(pod, podspec.PodName(pod))
			got := deriveStatus(r, r.startTime.Time).EphemeralContainerStatuses
			var names []string
			for _, st := range got {
				names = append(names, st.Name)
				if st.State.Waiting == nil || st.State.Waiting.Reason != tc.wantReason {
					t.Errorf("%s: state %+v, want waiting %s", st.Name, st.State, tc.wantReason)
				}
				if st.Ready || st.Started != nil || st.Image != "busybox" || st.RestartCount != 0 {
					t.Errorf("%s: ready=%v started=%v image=%q restartCount=%d; want not ready, no started, busybox, 0", st.Name, st.Ready, st.Started, st.Image, st.RestartCount)
				}
			}
			if strings.Join(names, ",") != strings.Join(tc.wantNames, ",") {
				t.Errorf("statuses %v, want %v", names, tc.wantNames)
			}
		})
	}
}

// TestEphemeralRunsOnce checks that an ephemeral container added to a running pod is started in the Podman pod and
// its target's PID namespace, with its stdin and TTY, is reported as the kubelet reports it, and is never restarted
// whatever the restart policy.
func TestEphemeralRunsOnce(t *testing.T) {
	for _, policy := range []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever} {
		t.Run(string(policy), func(t *testing.T) {
			h := newHarness(t, "busybox", "debug-image")
			rec := record.NewFakeRecorder(1000)
			h.p.cfg.Recorder = rec
			pod := lifecyclePod("dbg-"+strings.ToLower(string(policy)), policy, nil, testContainer("a", "busybox"))
			h.create(pod)
			h.waitContainer(ctrName(pod, "a", 1), "running")
			_, next := h.waitReported(pod, 0, "a running", func(p *corev1.Pod) bool { return isRunning(p, "a") })
			drainEvents(rec)

			ec := ephemeralContainer("debugger", "debug-image", "a")
			ec.Stdin, ec.TTY = true, true
			h.update(withEphemeral(pod, ec))
			h.waitContainer(ctrName(pod, "debugger", 1), "running")
			running, next := h.waitReported(pod, next, "debugger running", func(p *corev1.Pod) bool { return ephemeralStatus(p, "debugger").State.Running != nil })

			target, dbg := h.fake.containerNamed(t, ctrName(pod, "a", 1)), h.fake.containerNamed(t, ctrName(pod, "debugger", 1))
			if dbg.spec.PIDNamespaceOf != target.id {
				t.Errorf("debugger joins the PID namespace of %q, want its target's %q", dbg.spec.PIDNamespaceOf, target.id)
			}
			if dbg.spec.Pod != target.spec.Pod || !dbg.spec.Stdin || !dbg.spec.TTY || dbg.spec.Image != "debug-image" {
				t.Errorf("debugger spec: pod=%q stdin=%v tty=%v image=%q; want the pod %q, stdin, tty, debug-image", dbg.spec.Pod, dbg.spec.Stdin, dbg.spec.TTY, dbg.spec.Image, target.spec.Pod)
			}
			st := ephemeralStatus(running, "debugger")
			if st.ContainerID != containerIDPrefix+dbg.id || st.Ready || st.Started != nil || st.ImageID == "" {
				t.Errorf("running debugger status: containerID=%q ready=%v started=%v imageID=%q", st.ContainerID, st.Ready, st.Started, st.ImageID)
			}
			if running.Status.Phase != corev1.PodRunning || podCondition(running, corev1.PodReady) != corev1.ConditionTrue {
				t.Errorf("pod with a debugger: phase %s, Ready %s; want Running, True", running.Status.Phase, podCondition(running, corev1.PodReady))
			}
			want := []string{`Normal Pulled Container image "debug-image" already present on machine`, "Normal Created Created container: debugger", "Normal Started Started container debugger"}
			if got := drainEvents(rec); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("events %q, want %q", got, want)
			}
			// The same pod handed over again starts nothing more.
			h.update(withEphemeral(pod, ec))

			h.fake.exit(t, ctrName(pod, "debugger", 1), 1)
			done, next := h.waitReported(pod, next, "debugger terminated", func(p *corev1.Pod) bool { return ephemeralStatus(p, "debugger").State.Terminated != nil })
			if term := ephemeralStatus(done, "debugger").State.Terminated; term.ExitCode != 1 || term.Reason != "Error" {
				t.Errorf("debugger terminated %+v, want exit code 1, Error", term)
			}
			// A second one runs too; by then the first would have been restarted, were it to be.
			h.update(withEphemeral(pod, ec, ephemeralContainer("second", "busybox", "")))
			h.waitContainer(ctrName(pod, "second", 1), "running")
			last, _ := h.waitReported(pod, next, "second running", func(p *corev1.Pod) bool { return ephemeralStatus(p, "second").State.Running != nil })
			if st := ephemeralStatus(last, "debugger"); st.State.Terminated == nil || st.RestartCount != 0 {
				t.Errorf("debugger after it ended: %+v, restartCount %d; want terminated, not restarted", st.State, st.RestartCount)
			}
			if got := h.fake.callsTo("CreateContainer"); strings.Count(strings.Join(got, " "), "_debugger_") != 1 {
				t.Errorf("containers created: %q, want one debugger", got)
			}
			if got := h.fake.containerNamed(t, ctrName(pod, "second", 1)).spec.PIDNamespaceOf; got != "" {
				t.Errorf("container without a target joins the PID namespace of %q", got)
			}
		})
	}
}

// TestEphemeralStarts checks when and how ephemeral containers start: before the pod is initialized, after their
// target exists, after their image could be pulled, not at all on a node refusing them.
func TestEphemeralStarts(t *testing.T) {
	share := true
	tests := []struct {
		name string
		// prepare readies the fake and the pod before the pod is created; afterAdd runs once the debugger was
		// added, then the debugger is expected to run unless wantWaiting.
		prepare     func(h *harness, pod *corev1.Pod)
		afterAdd    func(h *harness, pod *corev1.Pod)
		configure   func(*Config)
		ec          corev1.EphemeralContainer
		wantWaiting string // the debugger waits for good with this reason and message
		wantMessage string
		wantPIDOf   string // the container whose PID namespace the debugger joins: "a" or none
	}{
		{
			name: "while an init container runs",
			prepare: func(h *harness, pod *corev1.Pod) {
				pod.Spec.InitContainers = []corev1.Container{testContainer("init", "busybox")}
			},
			afterAdd: func(h *harness, pod *corev1.Pod) {
				if got := h.fake.containerStatus(ctrName(pod, "init", 1)); got != "running" {
					h.t.Errorf("init container %s, want running", got)
				}
			},
			ec: ephemeralContainer("debugger", "busybox", ""),
		},
		{
			name: "once its target exists",
			prepare: func(h *harness, pod *corev1.Pod) {
				h.fake.hold(ctrName(pod, "a", 1))
			},
			afterAdd: func(h *harness, pod *corev1.Pod) {
				h.waitReported(pod, 0, "debugger waiting for its target", func(p *corev1.Pod) bool {
					w := ephemeralStatus(p, "debugger").State.Waiting
					return w != nil && w.Reason == "CreateContainerConfigError" && w.Message == "unable to find target container a"
				})
				h.fake.release(ctrName(pod, "a", 1))
			},
			ec:        ephemeralContainer("debugger", "busybox", "a"),
			wantPIDOf: "a",
		},
		{
			name: "in the pod's shared PID namespace",
			prepare: func(h *harness, pod *corev1.Pod) {
				pod.Spec.ShareProcessNamespace = &share
			},
			ec: ephemeralContainer("debugger", "busybox", "a"),
		},
		{
			name: "once its image is pulled",
			prepare: func(h *harness, pod *corev1.Pod) {
				h.fake.setPullError("registry.example/debug:1", errors.New("manifest unknown"))
			},
			afterAdd: func(h *harness, pod *corev1.Pod) {
				_, next := h.waitReported(pod, 0, "ErrImagePull", func(p *corev1.Pod) bool {
					w := ephemeralStatus(p, "debugger").State.Waiting
					return w != nil && w.Reason == "ErrImagePull"
				})
				h.waitReported(pod, next, "ImagePullBackOff", func(p *corev1.Pod) bool {
					w := ephemeralStatus(p, "debugger").State.Waiting
					return w != nil && w.Reason == "ImagePullBackOff"
				})
				h.fake.setPullError("registry.example/debug:1", nil)
			},
			ec: ephemeralContainer("debugger", "registry.example/debug:1", ""),
		},
		{
			name:        "not on a node refusing it",
			ec:          corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger", Image: "busybox", SecurityContext: &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_PTRACE"}}}}},
			wantWaiting: "CreateContainerConfigError",
			wantMessage: "capabilities beyond the container runtime's default set are not allowed on this node (berth-kubelet --allowed-capabilities=): spec.ephemeralContainers[debugger].securityContext.capabilities.add: SYS_PTRACE",
		},
		{
			name:      "on a node allowing it",
			configure: func(c *Config) { c.AllowedCapabilities = []string{"SYS_PTRACE"} },
			ec:        corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger", Image: "busybox", SecurityContext: &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_PTRACE"}}}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, tc.configure, "busybox")
			pod := lifecyclePod("starts", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
			if tc.prepare != nil {
				tc.prepare(h, pod)
			}
			h.create(pod)
			if len(pod.Spec.InitContainers) > 0 {
				h.waitContainer(ctrName(pod, "init", 1), "running")
			} else {
				h.poll("the pod's sandbox", func() bool { return len(h.fake.callsTo("StartPod")) > 0 })
			}
			h.update(withEphemeral(pod, tc.ec))
			if tc.afterAdd != nil {
				tc.afterAdd(h, pod)
			}
			if tc.wantWaiting != "" {
				got, _ := h.waitReported(pod, 0, tc.wantWaiting, func(p *corev1.Pod) bool {
					w := ephemeralStatus(p, "debugger").State.Waiting
					return w != nil && w.Reason == tc.wantWaiting
				})
				if msg := ephemeralStatus(got, "debugger").State.Waiting.Message; msg != tc.wantMessage {
					t.Errorf("message %q, want %q", msg, tc.wantMessage)
				}
				h.waitContainer(ctrName(pod, "a", 1), "running")
				if got := h.fake.containerStatus(ctrName(pod, "debugger", 1)); got != "" {
					t.Errorf("refused debugger is %s in Podman", got)
				}
				return
			}
			h.waitContainer(ctrName(pod, "debugger", 1), "running")
			want := ""
			if tc.wantPIDOf != "" {
				want = h.fake.containerNamed(t, ctrName(pod, tc.wantPIDOf, 1)).id
			}
			if got := h.fake.containerNamed(t, ctrName(pod, "debugger", 1)).spec.PIDNamespaceOf; got != want {
				t.Errorf("debugger joins the PID namespace of %q, want %q", got, want)
			}
			h.waitReported(pod, 0, "debugger running", func(p *corev1.Pod) bool { return ephemeralStatus(p, "debugger").State.Running != nil })
		})
	}
}

// TestEphemeralEnds checks that ephemeral containers stop with their pod: when it is deleted (Killing events) and
// when it finishes.
func TestEphemeralEnds(t *testing.T) {
	tests := []struct {
		name string
		end  func(h *harness, pod *corev1.Pod)
	}{
		{name: "pod deleted", end: func(h *harness, pod *corev1.Pod) {
			if err := h.p.DeletePod(h.ctx, pod); err != nil {
				h.t.Fatal(err)
			}
		}},
		{name: "pod finished", end: func(h *harness, pod *corev1.Pod) { h.fake.exit(h.t, ctrName(pod, "a", 1), 0) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "busybox")
			rec := record.NewFakeRecorder(1000)
			h.p.cfg.Recorder = rec
			pod := lifecyclePod("ends", corev1.RestartPolicyNever, nil, testContainer("a", "busybox"))
			h.create(pod)
			h.waitContainer(ctrName(pod, "a", 1), "running")
			h.fake.setPullError("absent-image", errors.New("not found"))
			h.update(withEphemeral(pod, ephemeralContainer("debugger", "busybox", "a"), ephemeralContainer("pending", "absent-image", "")))
			h.waitContainer(ctrName(pod, "debugger", 1), "running")
			_, next := h.waitReported(pod, 0, "debugger running", func(p *corev1.Pod) bool { return ephemeralStatus(p, "debugger").State.Running != nil })
			drainEvents(rec)

			tc.end(h, pod)
			final, _ := h.waitReported(pod, next, "debugger terminated", func(p *corev1.Pod) bool { return ephemeralStatus(p, "debugger").State.Terminated != nil })
			if got := h.fake.containerStatus(ctrName(pod, "debugger", 1)); got == "running" {
				t.Errorf("debugger still running in Podman")
			}
			if tc.name == "pod finished" && final.Status.Phase != corev1.PodSucceeded {
				t.Errorf("phase %s, want Succeeded (ephemeral containers do not count)", final.Status.Phase)
			}
			// One that never ran stays waiting, as the kubelet's TerminatePod leaves ephemeral containers.
			if w := ephemeralStatus(final, "pending").State.Waiting; w == nil {
				t.Errorf("ephemeral container that never ran: %+v, want waiting", ephemeralStatus(final, "pending").State)
			}
			if tc.name == "pod deleted" {
				h.poll("the pod to be removed", func() bool { return h.fake.podCount() == 0 })
				if evs := strings.Join(drainEvents(rec), "\n"); !strings.Contains(evs, "Normal Killing Stopping container debugger") {
					t.Errorf("events %q, want Killing of the debugger", evs)
				}
			}
		})
	}
}

// TestEphemeralStreams checks that logs, exec and attach reach an ephemeral container by its name.
func TestEphemeralStreams(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("streams", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	h.create(pod)
	h.waitContainer(ctrName(pod, "a", 1), "running")
	h.update(withEphemeral(pod, ephemeralContainer("debugger", "busybox", "a")))
	h.waitContainer(ctrName(pod, "debugger", 1), "running")
	h.waitReported(pod, 0, "debugger running", func(p *corev1.Pod) bool { return ephemeralStatus(p, "debugger").State.Running != nil })
	h.fake.write(t, ctrName(pod, "debugger", 1), "", "", "polo\n")

	a := &testAttach{}
	if err := h.p.RunInContainer(context.Background(), "default", "streams", "debugger", []string{"echo", "marco"}, a); err != nil || a.stdout.String() != "marco\n" {
		t.Errorf("exec: %q, %v; want marco", a.stdout.String(), err)
	}
	a = &testAttach{}
	if err := h.p.AttachToContainer(context.Background(), "default", "streams", "debugger", a); err != nil || a.stdout.String() != "polo\n" {
		t.Errorf("attach: %q, %v; want polo", a.stdout.String(), err)
	}
	logs, err := h.p.GetContainerLogs(context.Background(), "default", "streams", "debugger", api.ContainerLogOpts{})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	if b, err := io.ReadAll(logs); err != nil || string(b) != "polo\n" {
		t.Errorf("logs: %q, %v; want polo", b, err)
	}
}

// TestAdoptEphemeral checks that a restarted virtual kubelet takes ephemeral containers over as they are: the
// running one keeps running and is still reported, the one that ended stays terminated, none is started again, and
// the running one's exit is still seen.
func TestAdoptEphemeral(t *testing.T) {
	h := newHarness(t, "busybox")
	pod := lifecyclePod("adopt-dbg", corev1.RestartPolicyAlways, nil, testContainer("a", "busybox"))
	h.create(pod)
	h.waitContainer(ctrName(pod, "a", 1), "running")
	pod = withEphemeral(pod, ephemeralContainer("debugger", "busybox", "a"), ephemeralContainer("done", "busybox", ""))
	h.update(pod)
	h.waitContainer(ctrName(pod, "debugger", 1), "running")
	h.waitContainer(ctrName(pod, "done", 1), "running")
	h.fake.exit(t, ctrName(pod, "done", 1), 0)
	reported, _ := h.waitReported(pod, 0, "debugger running, done terminated", func(p *corev1.Pod) bool {
		return ephemeralStatus(p, "debugger").State.Running != nil && ephemeralStatus(p, "done").State.Terminated != nil && isRunning(p, "a")
	})
	h.die()

	h2 := restarted(t, h)
	if n, err := h2.p.Adopt(h2.ctx); err != nil || n != 1 {
		t.Fatalf("Adopt = %d, %v; want 1", n, err)
	}
	created := len(h.fake.callsTo("CreateContainer"))
	// The pod as the informer has it: its ephemeral containers and the status the earlier virtual kubelet reported.
	h2.create(reported)
	// Until the runner has looked at them, they are reported as they last were, not as waiting to be created.
	first, err := h2.p.GetPod(h2.ctx, pod.Namespace, pod.Name)
	if err != nil {
		t.Fatal(err)
	}
	if st := ephemeralStatus(first, "debugger"); st.State.Running == nil {
		t.Errorf("debugger right after the restart: %+v, want running", st.State)
	}
	after, next := h2.waitReported(pod, 0, "adopted", func(p *corev1.Pod) bool {
		return isRunning(p, "a") && ephemeralStatus(p, "debugger").State.Running != nil
	})
	for _, name := range []string{"debugger", "done"} {
		if got, want := ephemeralStatus(after, name), ephemeralStatus(reported, name); got.ContainerID != want.ContainerID || (got.State.Terminated == nil) != (want.State.Terminated == nil) {
			t.Errorf("%s after the restart: %s %+v, want %s %+v", name, got.ContainerID, got.State, want.ContainerID, want.State)
		}
	}
	h2.fake.exit(t, ctrName(pod, "debugger", 1), 0)
	h2.waitReported(pod, next, "debugger terminated", func(p *corev1.Pod) bool { return ephemeralStatus(p, "debugger").State.Terminated != nil })
	if got := len(h.fake.callsTo("CreateContainer")); got != created {
		t.Errorf("%d containers created after the restart, want none", got-created)
	}
	if err := h2.p.DeletePod(h2.ctx, pod); err != nil {
		t.Fatal(err)
	}
	h2.poll("the adopted pod to be removed", func() bool { return h.fake.podCount() == 0 })
}
