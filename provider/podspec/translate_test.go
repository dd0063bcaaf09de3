package podspec

import (
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/userns"
)

func TestPodName(t *testing.T) {
	tests := []struct {
		name string
		ns   string
		pod  string
		uid  types.UID
		want string
	}{
		{name: "full UID", ns: "default", pod: "web", uid: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", want: "default_web_0f1e2d3c"},
		{name: "other namespace", ns: "kube-system", pod: "dns-abc12", uid: "aaaaaaaa-bbbb", want: "kube-system_dns-abc12_aaaaaaaa"},
		{name: "short UID", ns: "ns", pod: "p", uid: "abc", want: "ns_p_abc"},
		{name: "UID of exactly 8", ns: "ns", pod: "p", uid: "12345678", want: "ns_p_12345678"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: tc.ns, Name: tc.pod, UID: tc.uid}}
			if got := PodName(pod); got != tc.want {
				t.Errorf("PodName() = %q, want %q", got, tc.want)
			}
		})
	}
}

func translatePod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-7d9f", UID: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{
				Name:  "setup",
				Image: "busybox",
				Ports: []corev1.ContainerPort{{ContainerPort: 53, HostPort: 5353, Protocol: corev1.ProtocolUDP}},
			}},
			Containers: []corev1.Container{{
				Name:  "app",
				Image: "nginx:1.27",
				Ports: []corev1.ContainerPort{
					{ContainerPort: 80, HostPort: 8080},
					{ContainerPort: 443, HostPort: 8443, HostIP: "127.0.0.1", Protocol: corev1.ProtocolTCP},
					{ContainerPort: 9090}, // no hostPort: not published
				},
			}, {
				Name:  "metrics",
				Image: "exporter",
				Ports: []corev1.ContainerPort{{ContainerPort: 9100, HostPort: 9100, Protocol: corev1.ProtocolSCTP}},
			}},
		},
	}
}

// podInputs are the inputs of the Podman pod of translatePod on node-a.
var podInputs = PodInputs{Node: "node-a", Network: "berth", Hostname: "web-7d9f", PodmanHostsFile: true}

func TestPod(t *testing.T) {
	pod := translatePod()
	got := Pod(pod, podInputs)
	want := podman.PodSpec{
		Name:     "shop_web-7d9f_0f1e2d3c",
		Hostname: "web-7d9f",
		Network:  "berth",
		Labels: map[string]string{
			podman.LabelManaged:   "true",
			podman.LabelNode:      "node-a",
			podman.LabelNamespace: "shop",
			podman.LabelName:      "web-7d9f",
			podman.LabelUID:       "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
		},
		// The init container's hostPort is not published, as the kubelet's sandbox maps regular containers' only.
		Ports: []podman.PortMapping{
			{HostPort: 8080, ContainerPort: 80, Protocol: "TCP"},
			{HostIP: "127.0.0.1", HostPort: 8443, ContainerPort: 443, Protocol: "TCP"},
			{HostPort: 9100, ContainerPort: 9100, Protocol: "SCTP"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Pod() =\n%+v\nwant\n%+v", got, want)
	}

	dns := &podman.DNSConfig{Servers: []string{"10.96.0.10"}, Searches: []string{"shop.svc.cluster.local"}}
	if got := Pod(pod, PodInputs{Hostname: "web-7d9f.web.shop.svc.cluster.local", DNS: dns}); got.Hostname != "web-7d9f.web.shop.svc.cluster.local" || got.DNS != dns {
		t.Errorf("hostname %q, DNS %+v; want the sandbox's FQDN and the pod's DNS", got.Hostname, got.DNS)
	}

	pod.Spec.HostAliases = []corev1.HostAlias{{IP: "192.0.2.1", Hostnames: []string{"a.example", "b"}}, {IP: "2001:db8::1", Hostnames: []string{"c"}}}
	if got, want := Pod(pod, podInputs).HostAdd, []string{"a.example:192.0.2.1", "b:192.0.2.1", "c:2001:db8::1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("HostAdd = %q, want %q", got, want)
	}
	managed := podInputs
	managed.PodmanHostsFile = false
	if got := Pod(pod, managed).HostAdd; got != nil {
		t.Errorf("HostAdd = %q with the hosts file Berth's, want none", got)
	}

	// Process and IPC namespaces: shared in the pod, or the host's.
	share := true
	for _, tc := range []struct {
		name                       string
		set                        func(*corev1.Pod)
		sharePID, hostPID, hostIPC bool
	}{
		{"private", func(*corev1.Pod) {}, false, false, false},
		{"shareProcessNamespace", func(p *corev1.Pod) { p.Spec.ShareProcessNamespace = &share }, true, false, false},
		{"hostPID", func(p *corev1.Pod) { p.Spec.HostPID = true }, false, true, false},
		{"hostIPC", func(p *corev1.Pod) { p.Spec.HostIPC = true }, false, false, true},
	} {
		p := translatePod()
		tc.set(p)
		got := Pod(p, podInputs)
		if got.SharePID != tc.sharePID || got.HostPID != tc.hostPID || got.HostIPC != tc.hostIPC {
			t.Errorf("%s: SharePID %v HostPID %v HostIPC %v; want %v %v %v", tc.name, got.SharePID, got.HostPID, got.HostIPC, tc.sharePID, tc.hostPID, tc.hostIPC)
		}
		for i := range p.Spec.Containers {
			if c := Container(p, &p.Spec.Containers[i], ContainerInputs{Node: "node-a", Attempt: 1}); c.HostIPC != tc.hostIPC {
				t.Errorf("%s: container %s HostIPC %v, want %v", tc.name, p.Spec.Containers[i].Name, c.HostIPC, tc.hostIPC)
			}
		}
	}

	// A hostNetwork pod has the node's network and hostname: no network, hostname or port mappings of its own.
	pod.Spec.HostNetwork = true
	hn := Pod(pod, podInputs)
	if !hn.HostNetwork || hn.Network != "" || hn.Hostname != "" || len(hn.Ports) != 0 || len(hn.HostAdd) != 3 {
		t.Errorf("hostNetwork Pod() = %+v", hn)
	}

	// On a node whose network namespace is not the Podman host's, the pod's containers join the node's.
	in := podInputs
	in.HostNetns = "/run/netns/node"
	if hn := Pod(pod, in); hn.HostNetns != "/run/netns/node" || !hn.HostNetwork {
		t.Errorf("hostNetwork Pod() on a node namespace = %+v", hn)
	}
	for _, netns := range []string{"", "/run/netns/node"} {
		if c := Container(pod, &pod.Spec.Containers[0], ContainerInputs{Node: "node-a", Attempt: 1, HostNetns: netns}); c.Netns != netns {
			t.Errorf("hostNetwork container's namespace %q, want %q", c.Netns, netns)
		}
	}
	pod.Spec.HostNetwork = false
	if c := Container(pod, &pod.Spec.Containers[0], ContainerInputs{Node: "node-a", Attempt: 1, HostNetns: "/run/netns/node"}); c.Netns != "" {
		t.Errorf("a container of a pod with its own network joins %q", c.Netns)
	}

	noPorts := &corev1.Pod{ObjectMeta: pod.ObjectMeta, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "x"}}}}
	if ports := Pod(noPorts, podInputs).Ports; len(ports) != 0 {
		t.Errorf("ports without hostPorts = %v, want none", ports)
	}
}

func TestContainer(t *testing.T) {
	pod := translatePod()
	c := &corev1.Container{
		Name:       "app",
		Image:      "nginx:1.27",
		Command:    []string{"/bin/sh", "-c"},
		Args:       []string{"echo $GREETING"},
		WorkingDir: "/srv",
		TTY:        true,
		Stdin:      true,
		Env: []corev1.EnvVar{
			{Name: "GREETING", Value: "hello"},
			{Name: "EMPTY", Value: ""},
		},
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse("128Mi"),
			corev1.ResourceCPU:    resource.MustParse("250m"),
		}},
	}
	got := Container(pod, c, ContainerInputs{Node: "node-a", Env: c.Env, Attempt: 3})

	if got.Name != "shop_web-7d9f_0f1e2d3c_app_3" {
		t.Errorf("name = %q, want shop_web-7d9f_0f1e2d3c_app_3", got.Name)
	}
	if got.Pod != "shop_web-7d9f_0f1e2d3c" {
		t.Errorf("pod = %q, want shop_web-7d9f_0f1e2d3c", got.Pod)
	}
	if got.Image != "nginx:1.27" || got.WorkingDir != "/srv" || !got.TTY || !got.Stdin {
		t.Errorf("image/workingDir/tty/stdin = %q %q %v %v", got.Image, got.WorkingDir, got.TTY, got.Stdin)
	}
	if !slices.Equal(got.Entrypoint, []string{"/bin/sh", "-c"}) {
		t.Errorf("entrypoint = %q, want the container's command", got.Entrypoint)
	}
	if !slices.Equal(got.Command, []string{"echo $GREETING"}) {
		t.Errorf("command = %q, want the container's args", got.Command)
	}
	if want := map[string]string{"GREETING": "hello", "EMPTY": ""}; !reflect.DeepEqual(got.Env, want) {
		t.Errorf("env = %v, want %v", got.Env, want)
	}
	if got.MemoryLimit != 128*1024*1024 {
		t.Errorf("memory limit = %d, want %d", got.MemoryLimit, 128*1024*1024)
	}
	if got.CPUQuota != 25000 || got.CPUPeriod != 100000 {
		t.Errorf("cpu quota/period = %d/%d, want 25000/100000", got.CPUQuota, got.CPUPeriod)
	}
	if got.User != "" {
		t.Errorf("user = %q, want none without a securityContext", got.User)
	}
	wantLabels := map[string]string{
		podman.LabelManaged:   "true",
		podman.LabelNode:      "node-a",
		podman.LabelNamespace: "shop",
		podman.LabelName:      "web-7d9f",
		podman.LabelUID:       "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
		podman.LabelContainer: "app",
		podman.LabelAttempt:   "3",
	}
	if !reflect.DeepEqual(got.Labels, wantLabels) {
		t.Errorf("labels = %v, want %v", got.Labels, wantLabels)
	}
}

func TestContainerNoCommand(t *testing.T) {
	pod := translatePod()
	got := Container(pod, &corev1.Container{Name: "app", Image: "nginx"}, ContainerInputs{Node: "node-a", Attempt: 1})
	if got.Entrypoint != nil || got.Command != nil {
		t.Errorf("entrypoint/command = %q/%q, want none so that the image's apply", got.Entrypoint, got.Command)
	}
	if len(got.Env) != 0 {
		t.Errorf("env = %v, want empty", got.Env)
	}
	if got.MemoryLimit != 0 || got.CPUQuota != 0 || got.CPUPeriod != 0 {
		t.Errorf("limits = mem %d quota %d period %d, want none", got.MemoryLimit, got.CPUQuota, got.CPUPeriod)
	}
	if got.Name != "shop_web-7d9f_0f1e2d3c_app_1" {
		t.Errorf("name = %q", got.Name)
	}
}

func TestContainerCPU(t *testing.T) {
	tests := []struct {
		cpu        string
		wantQuota  int64
		wantPeriod uint64
	}{
		{cpu: "250m", wantQuota: 25000, wantPeriod: 100000},
		{cpu: "1", wantQuota: 100000, wantPeriod: 100000},
		{cpu: "2500m", wantQuota: 250000, wantPeriod: 100000},
		{cpu: "10m", wantQuota: 1000, wantPeriod: 100000},
		{cpu: "1m", wantQuota: 1000, wantPeriod: 100000}, // clamped to the kernel's minimum
		{cpu: "0", wantQuota: 0, wantPeriod: 0},          // no limit
	}
	for _, tc := range tests {
		t.Run(tc.cpu, func(t *testing.T) {
			c := &corev1.Container{Name: "app", Image: "x", Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(tc.cpu)},
			}}
			got := Container(translatePod(), c, ContainerInputs{Node: "node-a", Env: c.Env, Attempt: 1})
			if got.CPUQuota != tc.wantQuota || got.CPUPeriod != tc.wantPeriod {
				t.Errorf("cpu %s: quota/period = %d/%d, want %d/%d", tc.cpu, got.CPUQuota, got.CPUPeriod, tc.wantQuota, tc.wantPeriod)
			}
		})
	}
}

func TestContainerUser(t *testing.T) {
	id := func(v int64) *int64 { return &v }
	tests := []struct {
		name string
		pod  *corev1.PodSecurityContext
		ctr  *corev1.SecurityContext
		want string
	}{
		{name: "none", want: ""},
		{name: "pod user", pod: &corev1.PodSecurityContext{RunAsUser: id(10)}, want: "10"},
		{name: "pod user and group", pod: &corev1.PodSecurityContext{RunAsUser: id(10), RunAsGroup: id(20)}, want: "10:20"},
		{name: "container user", ctr: &corev1.SecurityContext{RunAsUser: id(1000)}, want: "1000"},
		{name: "container user and group", ctr: &corev1.SecurityContext{RunAsUser: id(1000), RunAsGroup: id(2000)}, want: "1000:2000"},
		{
			name: "container overrides pod",
			pod:  &corev1.PodSecurityContext{RunAsUser: id(10), RunAsGroup: id(20)},
			ctr:  &corev1.SecurityContext{RunAsUser: id(1000), RunAsGroup: id(2000)},
			want: "1000:2000",
		},
		{
			name: "container without user keeps the pod's",
			pod:  &corev1.PodSecurityContext{RunAsUser: id(10), RunAsGroup: id(20)},
			ctr:  &corev1.SecurityContext{ReadOnlyRootFilesystem: new(bool)},
			want: "10:20",
		},
		{name: "root", ctr: &corev1.SecurityContext{RunAsUser: id(0), RunAsGroup: id(0)}, want: "0:0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := translatePod()
			pod.Spec.SecurityContext = tc.pod
			c := &corev1.Container{Name: "app", Image: "x", SecurityContext: tc.ctr}
			if got := Container(pod, c, ContainerInputs{Node: "node-a", Env: c.Env, Attempt: 1}).User; got != tc.want {
				t.Errorf("user = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestContainerCPUShares(t *testing.T) {
	tests := []struct {
		request string
		want    uint64
	}{
		{request: "", want: 2}, // no request: the kubelet's minimum, not Podman's 1024
		{request: "1m", want: 2},
		{request: "100m", want: 102},
		{request: "1", want: 1024},
		{request: "2500m", want: 2560},
		{request: "1000", want: 262144},
	}
	for _, tc := range tests {
		t.Run(tc.request, func(t *testing.T) {
			c := &corev1.Container{Name: "app", Image: "x"}
			if tc.request != "" {
				c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(tc.request)}
			}
			if got := Container(translatePod(), c, ContainerInputs{Node: "node-a", Attempt: 1}).CPUShares; got != tc.want {
				t.Errorf("request %q: shares %d, want %d", tc.request, got, tc.want)
			}
		})
	}
}

// TestContainerInputs checks that what the runner resolved reaches the container's spec: the Podman pod, the bind
// mounts, the PID namespace; and, only in the host's network, the pod's DNS settings and (when Podman writes the
// hosts file) its hostAliases.
func TestContainerInputs(t *testing.T) {
	dns := &podman.DNSConfig{Servers: []string{"10.96.0.10"}}
	mounts := []podman.BindMount{{Source: "/var/lib/berth/pods/u/volumes/kubernetes.io~empty-dir/data", Dest: "/data"},
		{Source: "/var/lib/berth/pods/u/containers/app/1", Dest: "/dev/termination-log"}}
	aliases := []corev1.HostAlias{{IP: "192.0.2.1", Hostnames: []string{"db"}}}
	tests := []struct {
		name        string
		hostNetwork bool
		in          ContainerInputs
		want        func(s *podman.ContainerSpec) podman.ContainerSpec
	}{
		{name: "pod network", in: ContainerInputs{Pod: "f00d", Mounts: mounts, PIDNamespaceOf: "beef", DNS: dns, PodmanHostsFile: true},
			want: func(s *podman.ContainerSpec) podman.ContainerSpec {
				s.Pod, s.Mounts, s.PIDNamespaceOf = "f00d", mounts, "beef"
				return *s
			}},
		{name: "host network, Podman's hosts file", hostNetwork: true, in: ContainerInputs{DNS: dns, PodmanHostsFile: true},
			want: func(s *podman.ContainerSpec) podman.ContainerSpec {
				s.DNS, s.HostAdd = dns, []string{"db:192.0.2.1"}
				return *s
			}},
		{name: "host network, Berth's hosts file", hostNetwork: true, in: ContainerInputs{DNS: dns},
			want: func(s *podman.ContainerSpec) podman.ContainerSpec {
				s.DNS = dns
				return *s
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := translatePod()
			pod.Spec.HostNetwork, pod.Spec.HostAliases = tc.hostNetwork, aliases
			c := &pod.Spec.Containers[0]
			tc.in.Node, tc.in.Attempt = "node-a", 1
			base := Container(pod, c, ContainerInputs{Node: "node-a", Attempt: 1})
			want := tc.want(&base)
			if got := Container(pod, c, tc.in); !reflect.DeepEqual(got, want) {
				t.Errorf("Container() =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestContainerName(t *testing.T) {
	pod := translatePod()
	if got, want := ContainerName(PodName(pod), "app", 2), "shop_web-7d9f_0f1e2d3c_app_2"; got != want {
		t.Errorf("ContainerName() = %q, want %q", got, want)
	}
	if got := Container(pod, &pod.Spec.Containers[0], ContainerInputs{Pod: "f00d", Attempt: 2}).Name; got != ContainerName(PodName(pod), "app", 2) {
		t.Errorf("container spec name %q, want the Podman pod's name, not its ID, in it", got)
	}
}

// TestKubeletUserMerge is a regression test: the kubelet merges runAsUser and runAsGroup field by field.
func TestKubeletUserMerge(t *testing.T) {
	id := func(v int64) *int64 { return &v }
	pod := translatePod()
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: id(10), RunAsGroup: id(20)}
	c := &corev1.Container{Name: "app", Image: "x", SecurityContext: &corev1.SecurityContext{RunAsUser: id(1000)}}
	if got := Container(pod, c, ContainerInputs{Node: "n", Env: c.Env, Attempt: 1}).User; got != "1000:20" {
		t.Errorf("user %q want 1000:20", got)
	}
	c = &corev1.Container{Name: "app", Image: "x", SecurityContext: &corev1.SecurityContext{RunAsGroup: id(30)}}
	if got := Container(pod, c, ContainerInputs{Node: "n", Env: c.Env, Attempt: 1}).User; got != "10:30" {
		t.Errorf("user %q want 10:30", got)
	}
}

// TestPortMappings checks the published ports against the kubelet's sandbox config: regular containers' hostPorts
// only, each port of a container once by name.
func TestPortMappings(t *testing.T) {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	tests := []struct {
		name string
		spec corev1.PodSpec
		want []podman.PortMapping
	}{
		{"none", corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Ports: []corev1.ContainerPort{{ContainerPort: 80, Protocol: tcp}}}}}, nil},
		{"init and sidecar hostPorts are not published", corev1.PodSpec{
			InitContainers: []corev1.Container{
				{Name: "init", Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080, Protocol: tcp}}},
				{Name: "sidecar", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways), Ports: []corev1.ContainerPort{{ContainerPort: 81, HostPort: 8081, Protocol: tcp}}},
			},
			Containers: []corev1.Container{{Name: "a", Ports: []corev1.ContainerPort{{ContainerPort: 82, HostPort: 8082, Protocol: tcp}}}},
		}, []podman.PortMapping{{HostPort: 8082, ContainerPort: 82, Protocol: "TCP"}}},
		{"a repeated unnamed port once", corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Ports: []corev1.ContainerPort{
			{ContainerPort: 80, HostPort: 8080, Protocol: tcp}, {ContainerPort: 80, HostPort: 8080, Protocol: tcp},
		}}}}, []podman.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "TCP"}}},
		{"same port, TCP and UDP", corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Ports: []corev1.ContainerPort{
			{ContainerPort: 53, HostPort: 5353, Protocol: tcp}, {ContainerPort: 53, HostPort: 5353, Protocol: udp},
		}}}}, []podman.PortMapping{{HostPort: 5353, ContainerPort: 53, Protocol: "TCP"}, {HostPort: 5353, ContainerPort: 53, Protocol: "UDP"}}},
		{"same port on IPv4 and IPv6 host addresses", corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Ports: []corev1.ContainerPort{
			{ContainerPort: 80, HostPort: 8080, HostIP: "127.0.0.1", Protocol: tcp}, {ContainerPort: 80, HostPort: 8080, HostIP: "::1", Protocol: tcp},
		}}}}, []podman.PortMapping{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Protocol: "TCP"}, {HostIP: "::1", HostPort: 8080, ContainerPort: 80, Protocol: "TCP"}}},
		{"a name used twice keeps the first", corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Ports: []corev1.ContainerPort{
			{Name: "http", ContainerPort: 80, HostPort: 8080, Protocol: tcp}, {Name: "http", ContainerPort: 81, HostPort: 8081, Protocol: tcp},
		}}}}, []podman.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "TCP"}}},
		{"the same port in two containers is the runtime's to refuse", corev1.PodSpec{Containers: []corev1.Container{
			{Name: "a", Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080, Protocol: tcp}}},
			{Name: "b", Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080, Protocol: tcp}}},
		}}, []podman.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "TCP"}, {HostPort: 8080, ContainerPort: 80, Protocol: "TCP"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := portMappings(&corev1.Pod{Spec: tc.spec}, ""); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("portMappings() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestContainerStopSignal checks that lifecycle.stopSignal becomes the Podman container's stop signal, and that
// without one the image's applies.
func TestContainerStopSignal(t *testing.T) {
	usr1, rt := corev1.SIGUSR1, corev1.SIGRTMINPLUS1
	tests := []struct {
		name      string
		lifecycle *corev1.Lifecycle
		want      string
	}{
		{"none", nil, ""},
		{"a lifecycle without one", &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}, ""},
		{"SIGUSR1", &corev1.Lifecycle{StopSignal: &usr1}, "SIGUSR1"},
		{"a real-time signal", &corev1.Lifecycle{StopSignal: &rt}, "SIGRTMIN+1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := translatePod()
			pod.Spec.Containers[0].Lifecycle = tc.lifecycle
			if got := Container(pod, &pod.Spec.Containers[0], ContainerInputs{Attempt: 1}).StopSignal; got != tc.want {
				t.Errorf("StopSignal = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPortMappingsNodeAddress: on a node that is a network namespace of its own, a hostPort that names no address
// is published on the node's address; one that names an address keeps it.
func TestPortMappingsNodeAddress(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Ports: []corev1.ContainerPort{
		{ContainerPort: 80, HostPort: 8080, Protocol: corev1.ProtocolTCP},
		{ContainerPort: 80, HostPort: 8080, HostIP: "127.0.0.1", Protocol: corev1.ProtocolUDP},
	}}}}}
	want := []podman.PortMapping{{HostIP: "100.64.0.2", HostPort: 8080, ContainerPort: 80, Protocol: "TCP"}, {HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Protocol: "UDP"}}
	if got := Pod(pod, PodInputs{HostPortIP: "100.64.0.2"}).Ports; !reflect.DeepEqual(got, want) {
		t.Errorf("ports %+v, want %+v", got, want)
	}
}

// TestPodUserNamespace checks the user namespace of a hostUsers: false pod's Podman pod: the range it holds, as
// the mapping of IDs 0 to 65535 and as the label a restarted berth-kubelet reads; none for a pod in the host's.
func TestPodUserNamespace(t *testing.T) {
	no, yes := false, true
	held := &userns.Range{FirstID: 3 * userns.Length}
	for _, tc := range []struct {
		name      string
		hostUsers *bool
		in        *userns.Range
		want      *podman.IDMapping
		wantLabel string
	}{
		{name: "hostUsers: false", hostUsers: &no, in: held, want: &podman.IDMapping{HostID: 196608, Size: 65536}, wantLabel: "196608"},
		{name: "hostUsers unset", in: held},
		{name: "hostUsers: true", hostUsers: &yes, in: held},
		{name: "hostUsers: false without a range", hostUsers: &no},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := translatePod()
			pod.Spec.HostUsers = tc.hostUsers
			in := podInputs
			in.UserNamespace = tc.in
			got := Pod(pod, in)
			if !reflect.DeepEqual(got.UserNamespace, tc.want) {
				t.Errorf("user namespace %+v, want %+v", got.UserNamespace, tc.want)
			}
			if label := got.Labels[podman.LabelUserNamespace]; label != tc.wantLabel {
				t.Errorf("label %s=%q, want %q", podman.LabelUserNamespace, label, tc.wantLabel)
			}
		})
	}
}
