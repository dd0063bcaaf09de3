package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The two nodes of the test cluster differ (see main_test.go): the plain one has no cluster DNS and refuses
// privileged containers; the configured one has a cluster DNS server and allows them.
const (
	plainNode      = "berth-podman-0"
	configuredNode = "berth-podman-1"
	clusterDNS     = "10.96.0.10"
)

// runToEnd applies a manifest and waits for each named pod to finish; it returns the pods.
func runToEnd(t *testing.T, ns, manifest string, names ...string) map[string]*corev1.Pod {
	t.Helper()
	kubectl(t, manifest, "apply", "-n", ns, "-f", "-")
	out := map[string]*corev1.Pod{}
	for _, name := range names {
		_, pod := watchPhases(t, ns, name, 2*time.Minute, corev1.PodSucceeded, corev1.PodFailed)
		out[name] = pod
	}
	return out
}

// succeeded fails the test unless the pod succeeded, and returns its logs.
func succeeded(t *testing.T, ns string, pod *corev1.Pod) string {
	t.Helper()
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod %s %s: %s\nlogs: %s", pod.Name, pod.Status.Phase, describeStatus(pod), kubectl(t, "", "logs", "-n", ns, pod.Name))
	}
	return kubectl(t, "", "logs", "-n", ns, pod.Name)
}

// statusLine finds a /proc/self/status field in logs.
func statusLine(logs, field string) string {
	for _, l := range strings.Split(logs, "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestPodSpecSecurityContext checks from inside containers: runAsUser/runAsGroup with fsGroup and
// supplementalGroups as additional groups, a read-only root filesystem (/tmp included), capabilities dropped and
// added by their Kubernetes names (on the node that allows the one added), allowPrivilegeEscalation=false as
// no_new_privs, seccompProfile RuntimeDefault as a seccomp filter; runAsNonRoot refusing an image that runs as root;
// privileged refused by a node that does not allow it and granted by one that does.
func TestPodSpecSecurityContext(t *testing.T) {
	ns := namespace(t)
	pods := runToEnd(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: restricted}
spec:
  restartPolicy: Never
  securityContext: {runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000, supplementalGroups: [4000], seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: main
    image: %[1]s
    command: ["sh", "-c", "id; grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/self/status; touch /x 2>/dev/null || echo root-ro; touch /tmp/x 2>/dev/null || echo tmp-ro"]
    securityContext:
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
---
apiVersion: v1
kind: Pod
metadata: {name: caps}
spec:
  restartPolicy: Never
  nodeName: %[2]s
  containers:
  - name: main
    image: %[1]s
    command: ["sh", "-c", "grep -E '^(CapEff|NoNewPrivs):' /proc/self/status; touch /x && echo root-rw"]
    securityContext:
      capabilities: {add: [NET_ADMIN], drop: [NET_RAW]}
---
apiVersion: v1
kind: Pod
metadata: {name: privileged}
spec:
  restartPolicy: Never
  nodeName: %[2]s
  containers:
  - name: main
    image: %[1]s
    command: ["sh", "-c", "grep -E '^CapEff:' /proc/self/status"]
    securityContext: {privileged: true}
`, busybox, configuredNode), "restricted", "caps", "privileged")

	logs := succeeded(t, ns, pods["restricted"])
	for _, want := range []string{"uid=1000", "gid=3000", "2000", "4000", "root-ro", "tmp-ro"} {
		if !strings.Contains(logs, want) {
			t.Errorf("restricted container: no %q in\n%s", want, logs)
		}
	}
	// NET_BIND_SERVICE is capability 10: the only one left in the bounding set.
	if got := statusLine(logs, "CapBnd"); got != "0000000000000400" {
		t.Errorf("restricted container: CapBnd %q, want only NET_BIND_SERVICE (0000000000000400)", got)
	}
	if got := statusLine(logs, "NoNewPrivs"); got != "1" {
		t.Errorf("restricted container: NoNewPrivs %q, want 1", got)
	}
	// seccompProfile RuntimeDefault is Podman's default profile: a seccomp filter (mode 2).
	if got := statusLine(logs, "Seccomp"); got != "2" {
		t.Errorf("restricted container: Seccomp %q, want 2 (filtered by the runtime's default profile)", got)
	}

	logs = succeeded(t, ns, pods["caps"])
	capEff := hexCaps(t, statusLine(logs, "CapEff"))
	if capEff&(1<<12) == 0 { // CAP_NET_ADMIN, which the configured node allows
		t.Errorf("caps container: NET_ADMIN not added: CapEff %x", capEff)
	}
	if capEff&(1<<13) != 0 { // CAP_NET_RAW
		t.Errorf("caps container: NET_RAW not dropped: CapEff %x", capEff)
	}
	if capEff&(1<<21) != 0 { // CAP_SYS_ADMIN is not a default
		t.Errorf("caps container: SYS_ADMIN granted: CapEff %x", capEff)
	}
	if statusLine(logs, "NoNewPrivs") != "0" || !strings.Contains(logs, "root-rw") {
		t.Errorf("caps container: want no_new_privs off and a writable root:\n%s", logs)
	}

	logs = succeeded(t, ns, pods["privileged"])
	if capEff := hexCaps(t, statusLine(logs, "CapEff")); capEff&(1<<21) == 0 {
		t.Errorf("privileged container: no SYS_ADMIN: CapEff %x", capEff)
	}

	// A node that does not allow privileged containers fails the pod, saying why.
	_ = runToEnd(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: privileged-refused}
spec:
  restartPolicy: Never
  nodeName: %[2]s
  containers:
  - {name: main, image: %[1]s, command: ["true"], securityContext: {privileged: true}}
`, busybox, plainNode))
	pod := waitPod(t, ns, "privileged-refused", 2*time.Minute, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if pod.Status.Reason != "UnsupportedPodSpec" || !strings.Contains(pod.Status.Message, "privileged containers are not allowed on this node") ||
		!strings.Contains(pod.Status.Message, "spec.containers[main].securityContext.privileged") {
		t.Errorf("privileged pod on a node refusing it: %s", describeStatus(pod))
	}

	// runAsNonRoot: the image runs as root (no user configured), so the container is not created.
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: nonroot}
spec:
  securityContext: {runAsNonRoot: true}
  containers:
  - {name: main, image: %s, command: ["sleep", "3600"]}
`, busybox), "apply", "-n", ns, "-f", "-")
	pod = waitPod(t, ns, "nonroot", 2*time.Minute, "CreateContainerConfigError", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			p.Status.ContainerStatuses[0].State.Waiting.Reason == "CreateContainerConfigError"
	})
	want := fmt.Sprintf("container has runAsNonRoot and image will run as root (pod: %q, container: main)", fmt.Sprintf("nonroot_%s(%s)", ns, pod.UID))
	if got := pod.Status.ContainerStatuses[0].State.Waiting.Message; got != want {
		t.Errorf("runAsNonRoot message %q, want %q", got, want)
	}
	if pod.Status.Phase != corev1.PodPending {
		t.Errorf("runAsNonRoot pod phase %s, want Pending", pod.Status.Phase)
	}
}

func hexCaps(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		t.Fatalf("capability set %q: %v", s, err)
	}
	return v
}

// TestPodSpecHostNetworkAndAliases checks a hostNetwork pod: the node's IP as pod IP, the node's hostname and
// interfaces, hostAliases in /etc/hosts; and hostAliases in a pod on the pod network.
func TestPodSpecHostNetworkAndAliases(t *testing.T) {
	ns := namespace(t)
	pods := runToEnd(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  restartPolicy: Never
  hostNetwork: true
  hostAliases:
  - {ip: 192.0.2.10, hostnames: [alias-one.example, alias-two]}
  containers:
  - name: main
    image: %[1]s
    command: ["sh", "-c", "echo hostname=$(hostname); ls /sys/class/net; cat /etc/hosts"]
    ports: [{containerPort: 8080, hostPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: podnet}
spec:
  restartPolicy: Never
  hostAliases:
  - {ip: 192.0.2.11, hostnames: [alias-three.example]}
  containers:
  - {name: main, image: %[1]s, command: ["sh", "-c", "echo hostname=$(hostname); cat /etc/hosts"]}
`, busybox), "hostnet", "podnet")

	pod := pods["hostnet"]
	logs := succeeded(t, ns, pod)
	if pod.Status.PodIP == "" || pod.Status.PodIP != pod.Status.HostIP {
		t.Errorf("hostNetwork pod: podIP %q, want the hostIP %q", pod.Status.PodIP, pod.Status.HostIP)
	}
	host, _ := os.Hostname()
	if !strings.Contains(logs, "hostname="+host+"\n") {
		t.Errorf("hostNetwork pod: want the node's hostname %q:\n%s", host, logs)
	}
	// The Podman services run on this machine: the pod sees the interface holding the node's IP.
	if iface := interfaceWith(t, pod.Status.HostIP); !strings.Contains(logs, iface+"\n") {
		t.Errorf("hostNetwork pod: the node's interface %s not seen:\n%s", iface, logs)
	}
	if !hostsLine(logs, "192.0.2.10", "alias-one.example") || !hostsLine(logs, "192.0.2.10", "alias-two") {
		t.Errorf("hostNetwork pod: hostAliases missing from /etc/hosts:\n%s", logs)
	}

	pod = pods["podnet"]
	logs = succeeded(t, ns, pod)
	if pod.Status.PodIP == pod.Status.HostIP {
		t.Errorf("pod network pod has the host's IP %s", pod.Status.PodIP)
	}
	if !strings.Contains(logs, "hostname=podnet\n") || !hostsLine(logs, "192.0.2.11", "alias-three.example") {
		t.Errorf("pod network pod: want hostname podnet and the hostAlias:\n%s", logs)
	}
}

// interfaceWith names this machine's interface holding ip.
func interfaceWith(t *testing.T, ip string) string {
	t.Helper()
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifaces {
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.String() == ip {
				return i.Name
			}
		}
	}
	t.Fatalf("no interface of this machine holds %s", ip)
	return ""
}

// hostsLine tells whether an /etc/hosts text maps name to ip.
func hostsLine(hosts, ip, name string) bool {
	for _, l := range strings.Split(hosts, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != ip {
			continue
		}
		for _, n := range f[1:] {
			if n == name {
				return true
			}
		}
	}
	return false
}

// resolvConf is what a pod printed of its /etc/resolv.conf.
type resolvConf struct {
	nameservers, search, options []string
}

func parseResolv(text string) resolvConf {
	var rc resolvConf
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "nameserver":
			rc.nameservers = append(rc.nameservers, f[1:]...)
		case "search":
			rc.search = f[1:]
		case "options":
			rc.options = append(rc.options, f[1:]...)
		}
	}
	return rc
}

// TestPodSpecDNS checks /etc/resolv.conf inside pods for each dnsPolicy: ClusterFirst on a node with a cluster
// DNS server (server, cluster search path, ndots:5) and with dnsConfig merged; ClusterFirst on a node without one
// (the host's resolv.conf and a MissingClusterDNS event); None with only dnsConfig; ClusterFirstWithHostNet.
func TestPodSpecDNS(t *testing.T) {
	ns := namespace(t)
	cat := `command: ["cat", "/etc/resolv.conf"]`
	pods := runToEnd(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: cluster-first}
spec:
  restartPolicy: Never
  nodeName: %[2]s
  containers: [{name: main, image: %[1]s, %[4]s}]
---
apiVersion: v1
kind: Pod
metadata: {name: cluster-first-config}
spec:
  restartPolicy: Never
  nodeName: %[2]s
  dnsConfig:
    nameservers: [192.0.2.53]
    searches: [corp.example]
    options: [{name: ndots, value: "2"}, {name: edns0}]
  containers: [{name: main, image: %[1]s, %[4]s}]
---
apiVersion: v1
kind: Pod
metadata: {name: no-cluster-dns}
spec:
  restartPolicy: Never
  nodeName: %[3]s
  containers: [{name: main, image: %[1]s, %[4]s}]
---
apiVersion: v1
kind: Pod
metadata: {name: none}
spec:
  restartPolicy: Never
  dnsPolicy: None
  dnsConfig:
    nameservers: [192.0.2.54]
    searches: [only.example]
  containers: [{name: main, image: %[1]s, %[4]s}]
---
apiVersion: v1
kind: Pod
metadata: {name: hostnet-cluster}
spec:
  restartPolicy: Never
  nodeName: %[2]s
  hostNetwork: true
  dnsPolicy: ClusterFirstWithHostNet
  containers: [{name: main, image: %[1]s, %[4]s}]
`, busybox, configuredNode, plainNode, cat), "cluster-first", "cluster-first-config", "no-cluster-dns", "none", "hostnet-cluster")

	clusterSearch := []string{ns + ".svc.cluster.local", "svc.cluster.local", "cluster.local"}
	hostRC := parseResolv(readFile(t, "/etc/resolv.conf"))

	rc := parseResolv(succeeded(t, ns, pods["cluster-first"]))
	if strings.Join(rc.nameservers, " ") != clusterDNS {
		t.Errorf("ClusterFirst: nameservers %q, want %s", rc.nameservers, clusterDNS)
	}
	if want := append(append([]string{}, clusterSearch...), hostRC.search...); strings.Join(rc.search, " ") != strings.Join(want, " ") {
		t.Errorf("ClusterFirst: search %q, want %q", rc.search, want)
	}
	if strings.Join(rc.options, " ") != "ndots:5" {
		t.Errorf("ClusterFirst: options %q, want ndots:5", rc.options)
	}

	rc = parseResolv(succeeded(t, ns, pods["cluster-first-config"]))
	if strings.Join(rc.nameservers, " ") != clusterDNS+" 192.0.2.53" {
		t.Errorf("ClusterFirst with dnsConfig: nameservers %q", rc.nameservers)
	}
	if len(rc.search) == 0 || rc.search[0] != clusterSearch[0] || rc.search[len(rc.search)-1] != "corp.example" {
		t.Errorf("ClusterFirst with dnsConfig: search %q", rc.search)
	}
	if strings.Join(rc.options, " ") != "ndots:2 edns0" {
		t.Errorf("ClusterFirst with dnsConfig: options %q, want ndots:2 edns0", rc.options)
	}

	rc = parseResolv(succeeded(t, ns, pods["no-cluster-dns"]))
	if strings.Join(rc.nameservers, " ") != strings.Join(hostRC.nameservers, " ") || strings.Join(rc.search, " ") != strings.Join(hostRC.search, " ") {
		t.Errorf("ClusterFirst without cluster DNS: %+v, want the host's %+v", rc, hostRC)
	}
	events := kubectl(t, "", "get", "events", "-n", ns, "--field-selector", "involvedObject.name=no-cluster-dns,reason=MissingClusterDNS",
		"-o", "jsonpath={.items[*].message}")
	if !strings.Contains(events, `kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.`) {
		t.Errorf("no MissingClusterDNS event for the ClusterFirst pod on a node without cluster DNS: %q", events)
	}

	rc = parseResolv(succeeded(t, ns, pods["none"]))
	if strings.Join(rc.nameservers, " ") != "192.0.2.54" || strings.Join(rc.search, " ") != "only.example" {
		t.Errorf("None: %+v, want only the dnsConfig", rc)
	}

	rc = parseResolv(succeeded(t, ns, pods["hostnet-cluster"]))
	if strings.Join(rc.nameservers, " ") != clusterDNS || len(rc.search) == 0 || rc.search[0] != clusterSearch[0] {
		t.Errorf("ClusterFirstWithHostNet: %+v, want the cluster DNS", rc)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPodSpecTerminationMessage checks status.containerStatuses[].state.terminated.message: the file a container
// wrote at the default /dev/termination-log, at a custom path, and the log tail of a failed container with
// FallbackToLogsOnError.
func TestPodSpecTerminationMessage(t *testing.T) {
	ns := namespace(t)
	pods := runToEnd(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: default-path}
spec:
  restartPolicy: Never
  containers:
  - {name: main, image: %[1]s, command: ["sh", "-c", "echo -n 'disk full' > /dev/termination-log; exit 1"]}
---
apiVersion: v1
kind: Pod
metadata: {name: custom-path}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: %[1]s
    command: ["sh", "-c", "echo -n done > /tmp/msg"]
    terminationMessagePath: /tmp/msg
---
apiVersion: v1
kind: Pod
metadata: {name: from-logs}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: %[1]s
    command: ["sh", "-c", "for i in $(seq 1 100); do echo line $i; done; exit 3"]
    terminationMessagePolicy: FallbackToLogsOnError
`, busybox), "default-path", "custom-path", "from-logs")

	msg := func(name string) string {
		st := pods[name].Status.ContainerStatuses
		if len(st) != 1 || st[0].State.Terminated == nil {
			t.Fatalf("pod %s: %s", name, describeStatus(pods[name]))
		}
		return st[0].State.Terminated.Message
	}
	if got := msg("default-path"); got != "disk full" {
		t.Errorf("message from /dev/termination-log %q, want %q", got, "disk full")
	}
	if got := msg("custom-path"); got != "done" {
		t.Errorf("message from /tmp/msg %q, want %q", got, "done")
	}
	got := msg("from-logs")
	var want strings.Builder
	for i := 21; i <= 100; i++ { // the last 80 lines
		fmt.Fprintf(&want, "line %d\n", i)
	}
	if got != want.String() {
		t.Errorf("message from the logs %q, want the last 80 lines", got)
	}
	if pods["from-logs"].Status.ContainerStatuses[0].State.Terminated.ExitCode != 3 {
		t.Errorf("from-logs: %s", describeStatus(pods["from-logs"]))
	}
}

// TestResourcesBecomeCgroupLimits reads the container's own cgroup: cpu.shares from the CPU request (1024 per
// core), the CFS quota from the CPU limit, and the memory limit, as the kubelet sets them.
func TestResourcesBecomeCgroupLimits(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: limits
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/memory/memory.limit_in_bytes"]
    resources:
      requests: {cpu: 250m, memory: 32Mi}
      limits: {cpu: 500m, memory: 64Mi}
`, busybox), "apply", "-n", ns, "-f", "-")
	_, pod := watchPhases(t, ns, "limits", 90*time.Second, corev1.PodSucceeded, corev1.PodFailed)
	logs := kubectl(t, "", "logs", "-n", ns, "limits")
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod %s: %s\n%s", pod.Status.Phase, describeStatus(pod), logs)
	}
	if got, want := strings.Fields(logs), []string{"256", "50000", "100000", "67108864"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("cgroup shares, quota, period, memory limit = %q, want %q", got, want)
	}
}
