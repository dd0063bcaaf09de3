package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/berth-dev/berth/internal/cluster"
)

// netnsCluster starts a second cluster whose two nodes are network namespaces of their own, each with upstream
// kube-proxy (berth up --node-netns), for the tests of Services. On cleanup it stops the cluster and checks that
// nothing of its network stays on the machine: no namespace, interface or route.
func netnsCluster(t *testing.T) *cluster.Cluster {
	t.Helper()
	state := t.TempDir()
	cfg := cluster.Default()
	cfg.StateDir, cfg.BinDir, cfg.Out = state, binDir, os.Stdout
	cfg.Nodes, cfg.NodePrefix, cfg.NodeNetns = 2, "netns", true
	cfg.AllowedHostPaths = []string{binDir}
	ports := freePorts(6)
	cfg.APIServerPort, cfg.EtcdPort, cfg.EtcdPeerPort = ports[0], ports[1], ports[2]
	cfg.ControllerManagerPort, cfg.SchedulerPort, cfg.MetricsServerPort = ports[3], ports[4], ports[5]
	ctx := context.Background()
	c, err := cluster.Up(ctx, cfg)
	if err != nil {
		t.Fatalf("berth up --node-netns: %v", err)
	}
	// The cluster's namespaces are berth-<hash>-<i>; its rules on the machine are marked berth-<hash>-.
	mark := strings.TrimSuffix(filepath.Base(c.NodeNetnsPaths()[0]), "0")
	if rules := machineRules(t); !strings.Contains(rules, mark) {
		t.Errorf("the machine has no rule of the cluster's (%s) for its nodes' links:\n%s", mark, rules)
	}
	t.Cleanup(func() {
		c.Stop(ctx)
		after := machineNetwork(t)
		words := strings.FieldsFunc(after, func(r rune) bool { return r == ' ' || r == '\n' || r == '/' || r == '\t' })
		for _, ip := range c.NodeIPs() {
			if slices.Contains(words, ip) {
				t.Errorf("after berth down, the machine still has the node address %s:\n%s", ip, after)
			}
		}
		if strings.Contains(after, mark) {
			t.Errorf("after berth down, a network namespace of the cluster (%s*) is left:\n%s", mark, after)
		}
		if rules := machineRules(t); strings.Contains(rules, mark) {
			t.Errorf("after berth down, rules of the cluster (%s) are left on the machine:\n%s", mark, rules)
		}
	})
	return c
}

// machineNetwork is what the machine's network has that berth up could leave: network namespaces, links and routes.
func machineNetwork(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{{"netns", "list"}, {"-br", "addr"}, {"route"}} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		b.Write(out)
	}
	return b.String()
}

// machineRules is the machine's own netfilter rules (iptables-save, every table).
func machineRules(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("iptables-save").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables-save: %v\n%s", err, out)
	}
	return string(out)
}

// kubectlOn runs kubectl against the cluster c.
func kubectlOn(t *testing.T, c *cluster.Cluster, stdin string, args ...string) string {
	t.Helper()
	cmd := kubectlCmd(c.Kubeconfig(), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// httpGetFrom asks, from inside pod client, for http://addr/ with busybox wget and returns the body's last line (""
// when nothing answered). timeout bounds it: Debian 12's busybox wget crashes (SIGSEGV) when given its own -T.
func httpGetFrom(c *cluster.Cluster, ns, client, addr string) string {
	cmd := kubectlCmd(c.Kubeconfig(), "exec", "-n", ns, client, "--", "sh", "-c",
		fmt.Sprintf(`timeout 5 wget -qO- http://%s/ | tail -n 1`, addr))
	// Standard output only: wget's complaints on standard error are no answer.
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// TestServicesOnNodeNamespaces checks Services and cluster DNS on nodes that each run kube-proxy in a network
// namespace of their own (berth up --node-netns), as on any node: a Deployment of two replicas spread over both
// nodes behind a NodePort Service; from a pod, the ClusterIP and the Service's name reach both replicas; the
// NodePort answers on each node's address; a headless Service resolves to both pod IPs; a StatefulSet pod
// (hostname + subdomain) resolves by its name, from itself and from another pod; a pod on one node reaches a pod on
// the other by its IP; a hostNetwork pod has the node's address; an in-cluster client reaches the apiserver through
// the kubernetes Service's cluster IP with its service account token. The Service follows its endpoints (scaled
// 2 → 0 → 2), and deleting it removes its rules from each node's netfilter.
func TestServicesOnNodeNamespaces(t *testing.T) {
	c := netnsCluster(t)
	ctx := context.Background()
	cl := c.Client()
	// berth images on the running cluster's state imports through its nodes' Podman services, and leaves their
	// configuration and sockets alone (the pods below need both).
	confs, _ := filepath.Glob(filepath.Join(c.Config().StateDir, "podman", "*", "containers.conf"))
	before := readFiles(t, confs)
	out, err := berthCLI(t, "images", "--state", c.Config().StateDir)
	if err != nil || strings.Count(out, "(running)") != 2 {
		t.Errorf("berth images on the running cluster: %v\n%s\nwant both nodes, through their running Podman", err, out)
	}
	if after := readFiles(t, confs); len(confs) != 2 || !maps.Equal(before, after) {
		t.Errorf("berth images changed the running nodes' Podman configuration (%d files)", len(confs))
	}
	for i := range 2 {
		if _, err := os.Stat(filepath.Join(c.Config().StateDir, "podman", fmt.Sprint(i), "podman.sock")); err != nil {
			t.Errorf("after berth images, node %d's Podman socket: %v", i, err)
		}
	}
	nodes, nodeIPs := c.NodeNames(), c.NodeIPs()
	podCIDRs := map[string]string{}
	if nodeIPs[0] == nodeIPs[1] || nodeIPs[0] == c.Config().NodeIP {
		t.Fatalf("node addresses %v: each node needs its own, apart from the machine's %s", nodeIPs, c.Config().NodeIP)
	}
	for i, name := range nodes {
		n, err := cl.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := n.Status.Addresses; len(got) == 0 || got[0].Address != nodeIPs[i] {
			t.Errorf("node %s addresses %v, want InternalIP %s", name, got, nodeIPs[i])
		}
		podCIDRs[name] = n.Spec.PodCIDR
	}
	if podCIDRs[nodes[0]] == "" || podCIDRs[nodes[0]] == podCIDRs[nodes[1]] {
		t.Errorf("nodes' spec.podCIDR %v: want one subnet of its own per node", podCIDRs)
	}

	const ns = "default"
	kubectlOn(t, c, fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}
      containers:
      - name: web
        image: %[1]s
        command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
        ports: [{containerPort: 8080, hostPort: 18090}]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-headless}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-sticky}
spec:
  sessionAffinity: ClientIP
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-local}
spec:
  internalTrafficPolicy: Local
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: db-self}
spec:
  selector: {app: db}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: db
        image: %[1]s
        command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeName: %[2]s
  volumes: [{name: kubectl, hostPath: {path: %[3]s, type: File}}]
  containers:
  - name: c
    image: %[1]s
    command: ["sleep", "3600"]
    volumeMounts: [{name: kubectl, mountPath: /kubectl, readOnly: true}]
---
apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  nodeName: %[4]s
  hostNetwork: true
  containers:
  - {name: c, image: %[1]s, command: ["sh", "-c", "mkdir -p /www && echo hostnet > /www/index.html && exec httpd -f -p 18080 -h /www"]}
`, busybox, nodes[0], filepath.Join(binDir, "kubectl"), nodes[1]), "apply", "-n", ns, "-f", "-")

	// Both replicas ready, one per node.
	var replicas map[string]string // pod name → IP
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := cl.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err
		}
		replicas = map[string]string{}
		on := map[string]bool{}
		for _, p := range pods.Items {
			if p.Status.PodIP != "" && podReady(&p) {
				replicas[p.Name], on[p.Spec.NodeName] = p.Status.PodIP, true
				if _, sub, err := net.ParseCIDR(podCIDRs[p.Spec.NodeName]); err != nil || !sub.Contains(net.ParseIP(p.Status.PodIP)) {
					t.Errorf("pod %s's IP %s is not in its node %s's podCIDR %q", p.Name, p.Status.PodIP, p.Spec.NodeName, podCIDRs[p.Spec.NodeName])
				}
			}
		}
		return len(replicas) == 2 && len(on) == 2, nil
	})
	if err != nil {
		t.Fatalf("two ready replicas of web, one per node: %v (ready: %v)", err, replicas)
	}
	for _, name := range []string{"client", "hostnet", "db-0"} {
		if _, err := waitPodOn(ctx, c, ns, name); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := cl.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clusterIP := net.JoinHostPort(svc.Spec.ClusterIP, "80")

	// The ClusterIP, and the Service's name through cluster DNS, reach both replicas (each answers its own name).
	for _, addr := range []string{clusterIP, "web.default.svc.cluster.local:80", "web:80"} {
		seen := map[string]bool{}
		for i := 0; i < 60 && len(seen) < 2; i++ {
			if got := httpGetFrom(c, ns, "client", addr); got != "" {
				if _, ok := replicas[got]; !ok {
					t.Fatalf("%s answered %q, not a replica of %v", addr, got, replicas)
				}
				seen[got] = true
			}
		}
		if len(seen) != 2 {
			t.Errorf("from a pod, %s reached %v, want both replicas %v", addr, seen, replicas)
		}
	}
	// A Service address on a port the Service does not have connects nowhere, as in any cluster: the machine rejects
	// the nodes' traffic to the Service range instead of sending it on to whatever answers beyond it.
	if out, err := kubectlCmd(c.Kubeconfig(), "exec", "-n", ns, "client", "--", "sh", "-c",
		fmt.Sprintf("nc -w 3 %s 8080 </dev/null", svc.Spec.ClusterIP)).CombinedOutput(); err == nil {
		t.Errorf("from a pod, the Service address %s connected on port 8080, which the Service does not have: %s", svc.Spec.ClusterIP, out)
	}
	// Cluster DNS as the kubelet sets it up for dnsPolicy ClusterFirst: the kube-dns Service, the cluster domain and
	// the search list of the pod's namespace.
	if rc := kubectlOn(t, c, "", "exec", "-n", ns, "client", "--", "cat", "/etc/resolv.conf"); !strings.Contains(rc, "nameserver 10.96.0.10\n") ||
		!strings.Contains(rc, "search default.svc.cluster.local svc.cluster.local cluster.local\n") {
		t.Errorf("the client's resolv.conf:\n%s\nwant nameserver 10.96.0.10 and the kubelet's search list", rc)
	}
	// A headless Service resolves to its pods' IPs.
	var want []string
	for _, ip := range replicas {
		want = append(want, ip)
	}
	slices.Sort(want)
	if got := lookup(t, c, ns, "web-headless.default.svc.cluster.local"); !slices.Equal(got, want) {
		t.Errorf("the headless Service resolves to %v, want the replicas' %v", got, want)
	}
	// A StatefulSet pod has its FQDN (hostname + subdomain) and resolves by name, from itself and from another pod.
	db, err := cl.CoreV1().Pods(ns).Get(ctx, "db-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fqdn := strings.TrimSpace(kubectlOn(t, c, "", "exec", "-n", ns, "db-0", "--", "hostname", "-f")); fqdn != "db-0.db.default.svc.cluster.local" {
		t.Errorf("db-0's hostname -f = %q, want db-0.db.default.svc.cluster.local", fqdn)
	}
	if got := lookup(t, c, ns, "db-0.db.default.svc.cluster.local"); !slices.Equal(got, []string{db.Status.PodIP}) {
		t.Errorf("db-0.db resolves to %v, want db-0's IP %s", got, db.Status.PodIP)
	}
	for _, from := range []string{"db-0", "client"} {
		if got := httpGetFrom(c, ns, from, "db-0.db:8080"); got != "db-0" {
			t.Errorf("from %s, db-0.db:8080 answered %q, want db-0", from, got)
		}
	}
	// A pod reaches a pod of the other node by its IP.
	for name, ip := range replicas {
		if got := httpGetFrom(c, ns, "client", net.JoinHostPort(ip, "8080")); got != name {
			t.Errorf("pod IP %s (%s) answered %q from the client pod", ip, name, got)
		}
	}
	// Hairpin: a pod reaches a Service whose only endpoint is itself.
	if got := httpGetFrom(c, ns, "db-0", "db-self"); got != "db-0" {
		t.Errorf("from db-0, the Service db-self (whose endpoint is db-0) answered %q, want db-0", got)
	}
	// Session affinity ClientIP: every request of one client reaches one replica.
	sticky := map[string]bool{}
	for i := 0; i < 10; i++ {
		sticky[httpGetFrom(c, ns, "client", "web-sticky")] = true
	}
	if _, ok := replicas[firstKey(sticky)]; len(sticky) != 1 || !ok {
		t.Errorf("with sessionAffinity ClientIP, the client's requests reached %v, want one replica of %v", sticky, replicas)
	}
	// internalTrafficPolicy Local: only the replica on the client's node answers.
	var local string
	for name := range replicas {
		if p, err := cl.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{}); err == nil && p.Spec.NodeName == nodes[0] {
			local = name
		}
	}
	reached := map[string]bool{}
	for i := 0; i < 10; i++ {
		reached[httpGetFrom(c, ns, "client", "web-local")] = true
	}
	if len(reached) != 1 || !reached[local] {
		t.Errorf("with internalTrafficPolicy Local, the client on %s reached %v, want only that node's replica %s", nodes[0], reached, local)
	}
	// The same hostPort on both nodes (each replica has it, as a DaemonSet's pods do) answers on each node's address
	// with that node's replica.
	for i, ip := range nodeIPs {
		url := fmt.Sprintf("http://%s/", net.JoinHostPort(ip, "18090"))
		if body, err := httpGet(ctx, url); err != nil {
			t.Errorf("hostPort %s: %v", url, err)
		} else if p, err := cl.CoreV1().Pods(ns).Get(ctx, body, metav1.GetOptions{}); err != nil || p.Spec.NodeName != nodes[i] {
			t.Errorf("hostPort %s answered %q, want the replica on %s", url, body, nodes[i])
		}
	}
	// The NodePort answers on each node's address.
	nodePort := svc.Spec.Ports[0].NodePort
	for _, ip := range nodeIPs {
		url := fmt.Sprintf("http://%s/", net.JoinHostPort(ip, fmt.Sprint(nodePort)))
		if body, err := httpGet(ctx, url); err != nil {
			t.Errorf("NodePort %s: %v", url, err)
		} else if _, ok := replicas[body]; !ok {
			t.Errorf("NodePort %s answered %q, not a replica of %v", url, body, replicas)
		}
	}
	// A hostNetwork pod has its node's network: its node's address, its ports on it.
	hn, err := cl.CoreV1().Pods(ns).Get(ctx, "hostnet", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if hn.Status.PodIP != nodeIPs[1] {
		t.Errorf("hostNetwork pod IP %s, want its node's address %s", hn.Status.PodIP, nodeIPs[1])
	}
	if got := httpGetFrom(c, ns, "client", net.JoinHostPort(nodeIPs[1], "18080")); got != "hostnet" {
		t.Errorf("the hostNetwork pod's port on its node's address answered %q, want hostnet", got)
	}
	// Pods reach what lies beyond the machine: a network namespace standing for another host, which has no route
	// to the nodes' or the pods' addresses, answers only if the machine masquerades the pods' traffic.
	outside := outsideHost(t)
	if got := httpGetFrom(c, ns, "client", net.JoinHostPort(outside, "8080")); got != "outside" {
		t.Errorf("from a pod, a host beyond the machine (%s) answered %q, want outside", outside, got)
	}
	// An in-cluster client: the kubernetes Service's environment names its cluster IP, and the service account
	// token authenticates there.
	env := kubectlOn(t, c, "", "exec", "-n", ns, "client", "--", "sh", "-c", "echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT")
	if strings.TrimSpace(env) != "10.96.0.1:443" {
		t.Errorf("KUBERNETES_SERVICE_HOST:PORT = %q, want the kubernetes Service's 10.96.0.1:443", strings.TrimSpace(env))
	}
	if who := kubectlOn(t, c, "", "exec", "-n", ns, "client", "--", "/kubectl", "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); who != "system:serviceaccount:default:default" {
		t.Errorf("in-cluster kubectl is %q, want the pod's service account", who)
	}
	// And by the kubernetes Service's name, through cluster DNS, with the token and CA of the pod's service account.
	const sa = "/var/run/secrets/kubernetes.io/serviceaccount"
	if who := kubectlOn(t, c, "", "exec", "-n", ns, "client", "--", "sh", "-c",
		`/kubectl --server=https://kubernetes.default.svc --token="$(cat `+sa+`/token)" --certificate-authority=`+sa+`/ca.crt auth whoami -o jsonpath={.status.userInfo.username}`); who != "system:serviceaccount:default:default" {
		t.Errorf("kubectl at https://kubernetes.default.svc with the pod's token is %q, want the pod's service account", who)
	}

	// Endpoints follow the Deployment's scale: none answers at 0, both again at 2.
	kubectlOn(t, c, "", "scale", "-n", ns, "deployment/web", "--replicas=0")
	// Every node's kube-proxy rejects the Service's traffic once it has no endpoints; then nothing answers.
	for i := range nodes {
		err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			rules, err := nodeRules(c, i)
			return err == nil && strings.Contains(rules, `"default/web has no endpoints"`), err
		})
		if err != nil {
			rules, _ := nodeRules(c, i)
			t.Fatalf("node %s does not reject web's traffic once it has no endpoints: %v\n%s", nodes[i], err, rules)
		}
	}
	for i := 0; i < 3; i++ {
		if got := httpGetFrom(c, ns, "client", clusterIP); got != "" {
			t.Fatalf("the ClusterIP %s answered %q with no endpoints", clusterIP, got)
		}
	}
	kubectlOn(t, c, "", "scale", "-n", ns, "deployment/web", "--replicas=2")
	waitServing(t, c, ns, clusterIP, func(s string) bool { return strings.HasPrefix(s, "web-") }, "a replica answers once scaled back to 2")

	// Deleting the Service removes its rules from every node's kube-proxy.
	kubectlOn(t, c, "", "delete", "-n", ns, "service/web")
	webRule := regexp.MustCompile(`default/web[ :"]`) // not web-sticky's or web-local's
	for i := range nodes {
		err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			rules, err := nodeRules(c, i)
			return err == nil && !strings.Contains(rules, svc.Spec.ClusterIP) && !webRule.MatchString(rules), err
		})
		if err != nil {
			rules, _ := nodeRules(c, i)
			t.Errorf("node %s still has rules of the deleted Service web (%s): %v\n%s", nodes[i], svc.Spec.ClusterIP, err, rules)
		}
	}
}

// lookup resolves name with nslookup in the client pod and returns its addresses, sorted (none if it fails).
func lookup(t *testing.T, c *cluster.Cluster, ns, name string) []string {
	t.Helper()
	out, _ := kubectlCmd(c.Kubeconfig(), "exec", "-n", ns, "client", "--", "nslookup", name).CombinedOutput()
	// The answers follow "Name:"; the server's own "Address:" line comes before, with its port.
	_, answers, _ := strings.Cut(string(out), "Name:")
	var ips []string
	for _, line := range strings.Split(answers, "\n") {
		if ip, ok := strings.CutPrefix(strings.TrimSpace(line), "Address:"); ok {
			ips = append(ips, strings.TrimSpace(ip))
		}
	}
	slices.Sort(ips)
	return ips
}

// outsideHost starts a network namespace that stands for a host beyond the machine: linked to the machine by a veth
// pair in 198.18.<n>.0/30 (the benchmarking range), without any other route, it serves "outside" over HTTP on
// port 8080 of its address, which it returns. Everything goes on cleanup.
func outsideHost(t *testing.T) string {
	t.Helper()
	n := 1 + rand.IntN(250)
	name, link := fmt.Sprintf("berth-e2e-outside-%d", n), fmt.Sprintf("bthe2e%d", n)
	hostIP, ip := fmt.Sprintf("198.18.%d.1", n), fmt.Sprintf("198.18.%d.2", n)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	run("ip", "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", name)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", link).Run() })
	run("ip", "addr", "add", hostIP+"/30", "dev", link)
	run("ip", "link", "set", link, "up")
	run("ip", "-n", name, "addr", "add", ip+"/30", "dev", "eth0")
	run("ip", "-n", name, "link", "set", "eth0", "up")
	run("ip", "-n", name, "link", "set", "lo", "up")
	www := t.TempDir()
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte("outside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := exec.Command("ip", "netns", "exec", name, "busybox", "httpd", "-f", "-p", ip+":8080", "-h", www)
	if err := srv.Start(); err != nil {
		t.Fatalf("serve in %s: %v", name, err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	return ip
}

// nodeRules is node i's netfilter rules (iptables-save, every table), read in the node's network namespace.
func nodeRules(c *cluster.Cluster, i int) (string, error) {
	out, err := exec.Command("nsenter", "--net="+c.NodeNetnsPaths()[i], "iptables-save").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("iptables-save in node %d's namespace: %w: %s", i, err, out)
	}
	return string(out), nil
}

// waitServing waits until what the client pod gets from addr satisfies ok.
func waitServing(t *testing.T, c *cluster.Cluster, ns, addr string, ok func(string) bool, what string) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		last = httpGetFrom(c, ns, "client", addr)
		return ok(last), nil
	})
	if err != nil {
		t.Fatalf("%s at %s: %v (last answer %q)", what, addr, err, last)
	}
}

// waitPodOn waits until a pod of cluster c runs and is ready.
func waitPodOn(ctx context.Context, c *cluster.Cluster, ns, name string) (*corev1.Pod, error) {
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 300*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := c.Client().CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		return p.Status.Phase == corev1.PodRunning && podReady(p), nil
	})
	if err != nil {
		return nil, fmt.Errorf("pod %s/%s running and ready: %w (last: %v)", ns, name, err, last)
	}
	return last, nil
}

// podReady tells whether a pod's Ready condition is True.
func podReady(p *corev1.Pod) bool {
	return slices.ContainsFunc(p.Status.Conditions, func(c corev1.PodCondition) bool {
		return c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
	})
}

// httpGet fetches url from the machine and returns its body, trimmed.
func httpGet(ctx context.Context, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), err
}

// readFiles reads the files named, by name.
func readFiles(t *testing.T, names []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = string(b)
	}
	return out
}

// firstKey is a key of m ("" for none).
func firstKey(m map[string]bool) string {
	for k := range m {
		return k
	}
	return ""
}
