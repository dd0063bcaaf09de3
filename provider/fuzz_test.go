package provider

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/provider/podspec"
	"github.com/berth-dev/berth/provider/podstatus"
	"github.com/berth-dev/berth/provider/volume"
)

// The fuzz targets feed hostile pods (any JSON the API types take, far beyond what the apiserver's validation
// lets through) and hostile container records to the translation and status code: nothing may panic or hang.
// `make fuzz` runs each for FUZZTIME; the seeds are in testdata/fuzz/<target>.

// fuzzPodUID stands for the UID the apiserver gives every pod (a UUID): volume folders are named after it.
const fuzzPodUID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

// fuzzPod reads a pod from fuzzed JSON, with the identity the apiserver would give it; nil when it is no pod.
func fuzzPod(data []byte) *corev1.Pod {
	pod := &corev1.Pod{}
	if err := json.Unmarshal(data, pod); err != nil {
		return nil
	}
	pod.UID = fuzzPodUID
	return pod
}

func FuzzPodSpecTranslation(f *testing.F) {
	f.Add([]byte(`{"metadata":{"name":"web","namespace":"shop"},"spec":{"containers":[{"name":"app","image":"busybox","command":["sh","-c","echo $(A)"],"env":[{"name":"A","value":"x"}]}]}}`), "nameserver 10.0.0.1\nsearch example.com\noptions ndots:2\n")
	f.Fuzz(func(t *testing.T, data []byte, resolvConf string) {
		pod := fuzzPod(data)
		if pod == nil {
			return
		}
		root := t.TempDir()
		host, err := parseResolvConf(strings.NewReader(resolvConf))
		if err != nil {
			return
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: "settings"}, Data: map[string]string{"mode": "fast", "level": "3"}}
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: "creds"}, Data: map[string][]byte{"password": []byte("s3cret")}}
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: "db"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.20", Ports: []corev1.ServicePort{{Port: 5432}}}}
		p := New(Config{NodeName: "node-a", NodeIP: testNodeIP, Network: "berth", RootDir: root, AllowedHostPaths: []string{root},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi")}})
		p.SetListers(testListers(t, cm, sec, svc))

		_ = podspec.Admit(pod, p.policy())
		for i := range pod.Spec.EphemeralContainers {
			_ = podspec.AdmitEphemeral((*corev1.Container)(&pod.Spec.EphemeralContainers[i].EphemeralContainerCommon), p.policy())
		}
		// Only pods the runner would admit get further than admission; their mounts stay inside the allowed folder.
		admitted := podspec.Admit(pod, podspec.Policy{AllowPrivileged: true, AllowHostNamespaces: true,
			AllowedCapabilities: []string{podspec.AllCapabilities}, Allocatable: p.cfg.Allocatable, AllowedHostPaths: p.cfg.AllowedHostPaths}) == nil
		ps := podspec.Pod(pod, podspec.PodInputs{Node: "node-a", Network: "berth"})
		if ps.Name != podspec.PodName(pod) {
			t.Fatalf("pod spec name %q", ps.Name)
		}
		for _, d := range []dnsSettings{
			{host: func() (hostResolvConf, error) { return host, nil }},
			{clusterDNS: []string{"10.96.0.10"}, clusterDomain: "cluster.local", host: func() (hostResolvConf, error) { return host, nil }},
		} {
			if res, err := d.podDNS(pod); err == nil && res.dns != nil {
				_ = fitDNSLimits(res.dns)
			}
		}
		in := envInputs{podIP: "10.89.0.7", hostIP: testNodeIP, nodeAllocatable: p.cfg.Allocatable}
		all := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
		for i := range all {
			c := &all[i]
			env, err := p.environment(pod, c, in)
			if err != nil {
				continue
			}
			s := podspec.Container(pod, c, podspec.ContainerInputs{Node: "node-a", Env: env, Attempt: 1})
			if s.Pod != podspec.PodName(pod) {
				t.Fatalf("container spec pod %q", s.Pod)
			}
			_ = podspec.NeedsImageUser(pod, c)
			_ = podspec.VerifyRunAsNonRoot(pod, c, "1000")
			if admitted {
				ms, err := p.volumes().ContainerMounts(pod, c, env)
				for _, m := range ms {
					if err == nil && !podspec.Within(root, m.Source) {
						t.Fatalf("mount source %q outside %s", m.Source, root)
					}
				}
			}
		}
		if admitted {
			for i := range pod.Spec.Volumes {
				v := &pod.Spec.Volumes[i]
				if volume.IsAPIData(v) {
					_, _ = p.volumes().Payload(context.Background(), pod, v)
				}
			}
		}
	})
}

// fuzzState makes a container state from fuzzed bytes.
func fuzzState(b *fuzzBytes) corev1.ContainerState {
	reasons := []string{"", "Completed", "Error", "OOMKilled", "CrashLoopBackOff", "ContainerCreating", "PodInitializing", "CreateContainerConfigError", "ContainerStatusUnknown"}
	t0 := metav1.NewTime(time.Unix(int64(b.next())*1000, 0))
	switch b.next() % 4 {
	case 0:
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reasons[int(b.next())%len(reasons)]}}
	case 1:
		return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: t0}}
	case 2:
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: int32(int8(b.next())), Reason: reasons[int(b.next())%len(reasons)], StartedAt: t0, FinishedAt: t0}}
	default:
		return corev1.ContainerState{}
	}
}

// fuzzBytes hands fuzzed bytes out one at a time, zeros once they run out.
type fuzzBytes struct{ b []byte }

func (f *fuzzBytes) next() byte {
	if len(f.b) == 0 {
		return 0
	}
	c := f.b[0]
	f.b = f.b[1:]
	return c
}

func FuzzStatusTranslation(f *testing.F) {
	f.Add([]byte(`{"metadata":{"name":"web","namespace":"shop"},"spec":{"restartPolicy":"OnFailure","initContainers":[{"name":"init"},{"name":"side","restartPolicy":"Always"}],"containers":[{"name":"app","readinessProbe":{"exec":{"command":["true"]}}}]}}`), []byte{2, 0, 1, 0, 1, 1, 5, 3, 2, 7, 1, 0}, uint8(3))
	f.Fuzz(func(t *testing.T, data, records []byte, flags uint8) {
		pod := fuzzPod(data)
		if pod == nil {
			return
		}
		b := &fuzzBytes{b: records}
		r := newPodRecord(pod, podspec.PodName(pod))
		for _, c := range r.containers() {
			c.state = fuzzState(b)
			c.last = fuzzState(b)
			bits := b.next()
			c.started, c.ready, c.hooking, c.killed = bits&1 != 0, bits&2 != 0, bits&4 != 0, bits&8 != 0
			if c.hooking {
				c.hookState = fuzzState(b)
			}
			if bits&16 != 0 {
				c.id = strings.Repeat("a", 64)
			}
			if bits&32 != 0 {
				c.imageID = "0123abcd"
			}
			c.attempts = int32(int8(b.next()))
		}
		r.terminal, r.initialized, r.sandbox, r.deleting = flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0
		if flags&16 != 0 {
			r.podIP = "10.89.0.7"
		}
		if flags&32 != 0 {
			r.startTime = metav1.NewTime(time.Unix(1700000000, 0))
		}
		if flags&64 != 0 {
			r.finalPhase = corev1.PodFailed
			r.reason, r.message = "UnsupportedPodSpec", "refused"
		}
		now := time.Unix(1700000100, 0)
		p := New(Config{NodeIP: testNodeIP})
		st := reportStatus(p, r, now)
		if len(st.ContainerStatuses) != len(r.app) || len(st.InitContainerStatuses) != len(r.init) {
			t.Fatalf("%d/%d statuses for %d/%d containers", len(st.InitContainerStatuses), len(st.ContainerStatuses), len(r.init), len(r.app))
		}
		switch st.Phase {
		case corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed:
		default:
			t.Fatalf("phase %q", st.Phase)
		}
		// Reported again, a terminal phase stays.
		pod.Status = st
		r.pod.Status = st
		again := reportStatus(p, r, now.Add(time.Second))
		if (st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed) && again.Phase != st.Phase {
			t.Fatalf("terminal phase %s became %s", st.Phase, again.Phase)
		}
		// Reading the status later changes nothing of it.
		p.mu.Lock()
		read := p.statusLocked(r)
		p.mu.Unlock()
		if !apiequality.Semantic.DeepEqual(read, again) {
			t.Fatalf("read after the report differs from it: %+v, reported %+v", read, again)
		}
		// Berth's own conditions are whole; those of other writers pass through as they came.
		var foreign []corev1.PodCondition
		for _, c := range again.Conditions {
			if !podstatus.IsKubeletCondition(c.Type) {
				foreign = append(foreign, c)
				continue
			}
			if c.Status == "" {
				t.Fatalf("condition %+v", c)
			}
		}
		var given []corev1.PodCondition
		for _, c := range fuzzPod(data).Status.Conditions {
			if !podstatus.IsKubeletCondition(c.Type) {
				given = append(given, c)
			}
		}
		if !apiequality.Semantic.DeepEqual(foreign, given) {
			t.Fatalf("conditions of other writers changed: %+v became %+v", given, foreign)
		}
		// The phase from statuses as the JSON gave them, names and all.
		_ = podstatus.Phase(pod, fuzzPod(data).Status.InitContainerStatuses, fuzzPod(data).Status.ContainerStatuses, flags&1 != 0, flags&2 != 0)
	})
}
