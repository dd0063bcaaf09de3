package cluster

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// With Config.NodeNetns, each node is a network namespace of its own, as each node of a kind cluster is a
// container: it has its own address, and its kube-proxy programs its own netfilter tables, so two nodes on one
// machine (or two berth clusters) never fight over kube-proxy's chains. Inside it:
//
//   - the node's end of a veth pair, with the node's address (a /30 with the machine's end);
//   - the pods' bridge, which Podman's netavark creates there: the node's Podman service runs in the machine's
//     namespace (it pulls from the machine's registries, loopback ones included) but runs netavark through a
//     wrapper that enters the node's namespace (helper_binaries_dir, see podmanHost.prepare);
//   - the node's berth-kubelet (it serves the kubelet API on the node's address and probes its pods) and kube-proxy.
//
// The machine routes each node's pod subnet to the node's address, and each node's default route is the machine:
// pods reach the pods of other nodes unmasqueraded, as on flannel's host-gw (plain routes: every node is on this
// machine, so nothing needs an overlay), and the machine (tests, kubectl's port-forward) reaches every pod.

// clusterCIDR holds every node's pod subnet (see Cluster.subnet): kube-proxy's --cluster-cidr, and the
// destinations the nodes do not masquerade pod traffic to.
const clusterCIDR = "10.89.0.0/16"

// netavarkPaths are where Podman looks for netavark by default (containers.conf helper_binaries_dir).
var netavarkPaths = []string{"/usr/local/libexec/podman", "/usr/local/lib/podman", "/usr/libexec/podman", "/usr/lib/podman"}

// nodeNet is node i's network namespace and its link to the machine.
type nodeNet struct {
	// Netns is the namespace's name (/run/netns/<Netns>).
	Netns string
	// HostIf is the machine's end of the veth pair; HostIP its address and NodeIP the node's, in one /30.
	HostIf, HostIP, NodeIP string
	// PodCIDR is the node's pod subnet, routed by the machine to NodeIP.
	PodCIDR string
}

// Path is the namespace's file, which nsenter --net and Podman's ns: network mode take.
func (n nodeNet) Path() string { return filepath.Join("/run/netns", n.Netns) }

// netnsPrefix names the namespaces of the cluster on stateDir: berth-<8 hex digits of the state's hash>-.
func netnsPrefix(stateDir string) string {
	return fmt.Sprintf("berth-%08x-", stateHashOf(stateDir))
}

// nodeNetnsName is the namespace of node i of the cluster on stateDir.
func nodeNetnsName(stateDir string, i int) string {
	return fmt.Sprintf("%s%d", netnsPrefix(stateDir), i)
}

// fileExists tells whether path exists.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// nodeNets are the namespaces of the cluster's nodes. The link /30s take a /24 of 100.64.0.0/16 (shared address
// space, which hosts rarely route) from a place derived from the state folder that no interface or route of this
// machine uses; node i has .4i+1 (machine) and .4i+2 (node).
func (c *Cluster) nodeNets() []nodeNet {
	k := freeSlash24(100, 64, int(c.stateHash()%256), hostSubnets(), nil)
	// Podman keeps the network it made on an earlier run, and its subnet with it; a node without one takes a subnet
	// that neither the machine nor another node's kept network uses.
	kept := make([]string, c.cfg.Nodes)
	var keptNets []*net.IPNet
	for i := range kept {
		if i < len(c.hosts) && c.hosts[i].dir != "" {
			kept[i] = podmanNetworkSubnet(filepath.Join(c.hosts[i].dir, "networks", podNetwork+".json"))
			if _, n, err := net.ParseCIDR(kept[i]); err == nil {
				keptNets = append(keptNets, n)
			}
		}
	}
	out := make([]nodeNet, c.cfg.Nodes)
	for i := range out {
		podCIDR := kept[i]
		if podCIDR == "" {
			podCIDR = c.subnetAvoiding(i, keptNets)
		}
		out[i] = nodeNet{
			Netns:   nodeNetnsName(c.cfg.StateDir, i),
			HostIf:  fmt.Sprintf("%s%d", hostIfPrefix(c.cfg.StateDir), i),
			HostIP:  fmt.Sprintf("100.64.%d.%d", k, 4*i+1),
			NodeIP:  fmt.Sprintf("100.64.%d.%d", k, 4*i+2),
			PodCIDR: podCIDR,
		}
	}
	return out
}

// setUp creates the namespace, its link to the machine and the routes both ways. The namespace must not exist
// (removeNodeNets removes an earlier run's).
func (n nodeNet) setUp(ctx context.Context) error {
	steps := [][]string{
		{"ip", "netns", "add", n.Netns},
		{"ip", "link", "add", n.HostIf, "type", "veth", "peer", "name", "eth0", "netns", n.Netns},
		{"ip", "addr", "add", n.HostIP + "/30", "dev", n.HostIf},
		{"ip", "link", "set", n.HostIf, "up"},
		{"ip", "-n", n.Netns, "link", "set", "lo", "up"},
		{"ip", "-n", n.Netns, "addr", "add", n.NodeIP + "/30", "dev", "eth0"},
		{"ip", "-n", n.Netns, "link", "set", "eth0", "up"},
		{"ip", "-n", n.Netns, "route", "add", "default", "via", n.HostIP},
		// add, not replace: a subnet another cluster routes is an error, not taken over.
		{"ip", "route", "add", n.PodCIDR, "via", n.NodeIP, "dev", n.HostIf},
		// Pod traffic to other pods keeps its source address: netavark masquerades whatever leaves the bridge's
		// subnet, so this rule goes before its chain.
		{"ip", "netns", "exec", n.Netns, "iptables", "-w", "-t", "nat", "-I", "POSTROUTING", "1", "-s", n.PodCIDR, "-d", clusterCIDR,
			"-m", "comment", "--comment", "berth: no masquerade between pods", "-j", "RETURN"},
	}
	for _, s := range steps {
		if err := runTool(ctx, s...); err != nil {
			return fmt.Errorf("network namespace of the node: %w", err)
		}
	}
	// The node forwards the pods' packets (netavark sets it too, once it makes a bridge; the machine's is set by
	// setMachineSysctls). Replies of a Service's pod to a client on the same bridge pass the node's netfilter
	// (kube-proxy's reverse NAT), as the kubelet's network plugins have it.
	if err := runTool(ctx, "ip", "netns", "exec", n.Netns, "sysctl", "-qw", "net.ipv4.ip_forward=1",
		"net.bridge.bridge-nf-call-iptables=1"); err != nil {
		return fmt.Errorf("set the forwarding sysctls in %s: %w", n.Netns, err)
	}
	return nil
}

// hostIfPrefix names the machine's ends of the veth pairs of the cluster on stateDir.
func hostIfPrefix(stateDir string) string {
	return fmt.Sprintf("bthv%04x", stateHashOf(stateDir)&0xffff)
}

// hostRules are the machine's netfilter rules for the nodes' links (iptables -A specs, chain first), each marked
// with a comment naming the cluster: the nodes' traffic is forwarded whatever the FORWARD chain's policy (Docker
// and ufw make it DROP), except to the Service range, which is rejected; and what leaves the machine by another
// interface is masqueraded to the machine's address, as the nodes' addresses are known to nothing beyond it.
func hostRules(stateDir string, nets []nodeNet) [][]string {
	if len(nets) == 0 {
		return nil
	}
	links := nets[0].HostIP[:strings.LastIndex(nets[0].HostIP, ".")] + ".0/24"
	ifaces := hostIfPrefix(stateDir) + "+"
	mark := func(what string) []string {
		return []string{"-m", "comment", "--comment", netnsPrefix(stateDir) + what}
	}
	return [][]string{
		append(append([]string{"-t", "filter", "-I", "FORWARD", "-i", ifaces}, mark("forward-out")...), "-j", "ACCEPT"),
		append(append([]string{"-t", "filter", "-I", "FORWARD", "-o", ifaces}, mark("forward-in")...), "-j", "ACCEPT"),
		append(append([]string{"-t", "nat", "-A", "POSTROUTING", "-s", links, "!", "-o", ifaces}, mark("egress")...), "-j", "MASQUERADE"),
		// Inserted last, so first in FORWARD: a Service address on a port kube-proxy has no rule for stays
		// unanswered on a node, as in any cluster, where nothing routes the Service range; here it would
		// leave the machine and reach whatever answers beyond it (a transparent proxy does on some networks).
		append(append([]string{"-t", "filter", "-I", "FORWARD", "-i", ifaces, "-d", serviceCIDR}, mark("no-service-range")...), "-j", "REJECT"),
	}
}

// addHostRules adds hostRules (removeHostRules removes an earlier run's first).
func addHostRules(ctx context.Context, stateDir string, nets []nodeNet) error {
	for _, r := range hostRules(stateDir, nets) {
		if err := runTool(ctx, append([]string{"iptables", "-w"}, r...)...); err != nil {
			return fmt.Errorf("netfilter rule for the nodes: %w", err)
		}
	}
	return nil
}

// removeHostRules removes the machine's rules marked as the cluster's on stateDir (see hostRules).
func removeHostRules(stateDir string) error {
	var errs []error
	for _, table := range []string{"filter", "nat"} {
		out, err := exec.Command("iptables", "-w", "-t", table, "-S").Output()
		if err != nil {
			errs = append(errs, fmt.Errorf("list the %s table: %w", table, err))
			continue
		}
		for _, del := range rulesToDelete(string(out), netnsPrefix(stateDir)) {
			if err := runTool(context.Background(), append([]string{"iptables", "-w", "-t", table}, del...)...); err != nil {
				errs = append(errs, fmt.Errorf("remove a rule of the nodes: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// rulesToDelete turns the rules of iptables -S output whose comment starts with mark into iptables -D arguments.
// Berth's rules have no spaces in their words, so a rule splits on white space (and loses any quotes).
func rulesToDelete(listing, mark string) [][]string {
	var out [][]string
	for _, line := range strings.Split(listing, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "-A" {
			continue
		}
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "--comment" && strings.HasPrefix(strings.Trim(f[i+1], `"`), mark) {
				del := []string{"-D"}
				for _, w := range f[1:] {
					del = append(del, strings.Trim(w, `"`))
				}
				out = append(out, del)
				break
			}
		}
	}
	return out
}

// removeNodeNets removes the veth pairs and namespaces of the cluster on stateDir, and with them the routes through
// them, and the machine's rules for them. The machine's ends go first: the kernel frees a namespace (and the veths
// in it) only some time after its last user left, while deleting a veth takes its peer and routes at once. What
// does not exist is no error.
func removeNodeNets(stateDir string) error {
	errs := []error{removeHostRules(stateDir), deleteLinks(hostIfPrefix(stateDir), "node link")}
	entries, err := os.ReadDir("/run/netns")
	if errors.Is(err, os.ErrNotExist) {
		return errors.Join(errs...)
	} else if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list network namespaces: %w", err))...)
	}
	prefix := netnsPrefix(stateDir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		if err := runTool(context.Background(), "ip", "netns", "del", e.Name()); err != nil {
			errs = append(errs, fmt.Errorf("remove network namespace %s: %w", e.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// runTool runs a command line (ip, iptables, sysctl); its error carries the command and what it printed.
func runTool(ctx context.Context, args ...string) error {
	if out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// deleteLinks deletes the machine's network interfaces named prefix + a node index (what says what they are).
func deleteLinks(prefix, what string) error {
	ifaces, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("list network interfaces: %w", err)
	}
	var errs []error
	for _, ifc := range ifaces {
		rest, ok := strings.CutPrefix(ifc.Name, prefix)
		if _, err := strconv.Atoi(rest); !ok || err != nil {
			continue
		}
		if err := runTool(context.Background(), "ip", "link", "del", ifc.Name); err != nil {
			errs = append(errs, fmt.Errorf("remove the %s %s: %w", what, ifc.Name, err))
		}
	}
	return errors.Join(errs...)
}

// netavarkWrapper is the netavark that node's Podman runs: the real one, inside the node's namespace, so that the
// bridge, the pods' veths and netavark's firewall rules (masquerade, hostPorts) are the node's. The real one is
// the first of dirs (Podman's helper folders) that has it.
func netavarkWrapper(netnsPath string, dirs []string) (string, error) {
	real := ""
	for _, d := range dirs {
		if st, err := os.Stat(filepath.Join(d, "netavark")); err == nil && !st.IsDir() {
			real = filepath.Join(d, "netavark")
			break
		}
	}
	if real == "" {
		return "", fmt.Errorf("netavark not found in %s: apt-get install netavark", strings.Join(dirs, ", "))
	}
	return fmt.Sprintf("#!/bin/sh\n# Written by berth: netavark in the node's network namespace.\nexec nsenter --net=%s %s \"$@\"\n", netnsPath, real), nil
}

// routedSubnets lists the IPv4 destinations of this machine's main routing table (/proc/net/route), default
// route aside.
func routedSubnets() []*net.IPNet {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []*net.IPNet
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 {
			continue
		}
		if n := parseRouteEntry(fields[1], fields[7]); n != nil {
			out = append(out, n)
		}
	}
	return out
}

// parseRouteEntry reads a destination and mask of /proc/net/route (little-endian hex); nil for the default route
// or what does not parse.
func parseRouteEntry(dst, mask string) *net.IPNet {
	d, err1 := hex.DecodeString(dst)
	m, err2 := hex.DecodeString(mask)
	if err1 != nil || err2 != nil || len(d) != 4 || len(m) != 4 {
		return nil
	}
	ip := net.IPv4(d[3], d[2], d[1], d[0]).To4()
	ones, _ := net.IPv4Mask(m[3], m[2], m[1], m[0]).Size()
	if ones == 0 {
		return nil
	}
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(ones, 32)}
}

// kubeletAddr is where node i's kubelet API listens.
func (c *Cluster) kubeletAddr(i int) (host string, port int) {
	if c.nets != nil {
		return c.nets[i].NodeIP, c.cfg.KubeletPort
	}
	return c.cfg.NodeIP, c.cfg.KubeletPort + i
}

// inNetns is a command line that runs bin with args in node i's namespace (as is, without one).
func (c *Cluster) inNetns(i int, bin string, args []string) (string, []string) {
	if c.nets == nil {
		return bin, args
	}
	return "nsenter", append([]string{"--net=" + c.nets[i].Path(), "--", bin}, args...)
}

// podNetwork is the Podman network of the nodes' pods (berth-kubelet --network).
const podNetwork = "berth"

// podmanNetworkSubnet is the first subnet of the Podman network whose netavark configuration file is path, "" when
// there is none (or it does not read).
func podmanNetworkSubnet(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var nw struct {
		Subnets []struct {
			Subnet string `json:"subnet"`
		} `json:"subnets"`
	}
	if json.Unmarshal(b, &nw) != nil || len(nw.Subnets) == 0 {
		return ""
	}
	if _, _, err := net.ParseCIDR(nw.Subnets[0].Subnet); err != nil {
		return ""
	}
	return nw.Subnets[0].Subnet
}

// netnsTools checks that the machine has what the nodes' namespaces need.
func netnsTools() error {
	for _, tool := range []string{"ip", "nsenter", "iptables", "sysctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("the nodes' network namespaces need %s: apt-get install iproute2 util-linux iptables procps (or pass --node-netns=false)", tool)
		}
	}
	return nil
}

// useLeftoverNetns has each node's Podman run netavark in the namespace an earlier run left for the node, if any:
// a crashed run's pods are removed (cleanLeftovers) by netavark in the namespaces, which outlive it.
func (c *Cluster) useLeftoverNetns() {
	for i := range c.hosts {
		if n := (nodeNet{Netns: nodeNetnsName(c.cfg.StateDir, i)}); fileExists(n.Path()) {
			c.hosts[i].netns = n.Path()
		}
	}
}

// setMachineSysctls sets what the machine needs for all the nodes, once: it forwards the pods' packets, and it lets
// a socket bind an address it does not have, since Podman holds each published hostPort open in its own namespace,
// the machine's, where a node's address is not local (every unaddressed hostPort is on its node's address, see
// podspec.PodInputs.HostPortIP).
func setMachineSysctls() error {
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enable IPv4 forwarding: %w", err)
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_nonlocal_bind", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("let Podman hold hostPorts on the nodes' addresses (net.ipv4.ip_nonlocal_bind): %w", err)
	}
	return nil
}

// setUpNodeNets makes the nodes' network namespaces, after removing any an earlier run left, and has each node's
// Podman service run netavark in its node's.
func (c *Cluster) setUpNodeNets(ctx context.Context) error {
	// An earlier run's namespaces, and the bridges of a run whose nodes were on the machine's address
	// (--node-netns=false), whose routes would hold the pod subnets.
	if err := errors.Join(removeNodeNets(c.cfg.StateDir), removeHostBridges(c.cfg.StateDir)); err != nil {
		return err
	}
	if !fileExists("/proc/sys/net/bridge/bridge-nf-call-iptables") {
		return fmt.Errorf("the kernel's bridge netfilter is not loaded (modprobe br_netfilter): without it a Service's replies from a pod on the client's own node bypass kube-proxy's rules")
	}
	if err := setMachineSysctls(); err != nil {
		return err
	}
	c.nets = c.nodeNets()
	if err := addHostRules(ctx, c.cfg.StateDir, c.nets); err != nil {
		return err
	}
	for i, n := range c.nets {
		if err := n.setUp(ctx); err != nil {
			return err
		}
		c.hosts[i].netns = n.Path()
		c.cfg.progress("  node %s: network namespace %s, address %s, pods %s", c.cfg.nodeName(i), n.Netns, n.NodeIP, n.PodCIDR)
	}
	return nil
}

// kubeProxyHealthzPort is kube-proxy's default healthz port, on the node's address (each node has its own).
const kubeProxyHealthzPort = 10256

// startKubeProxy starts upstream kube-proxy for node i in the node's network namespace: iptables mode (Debian's
// iptables, nft backend), the node's name and address, the cluster's pod range as local traffic. It leaves the
// machine-wide conntrack table size alone (--conntrack-max-per-core=0, as kind does): the nodes share it.
func (c *Cluster) startKubeProxy(i int) (*process, error) {
	n := c.nets[i]
	return c.startOnNode(i, "kube-proxy-"+c.cfg.nodeName(i), "kube-proxy", []string{
		"--kubeconfig=" + c.creds.kubeProxyKubeconfig, "--hostname-override=" + c.cfg.nodeName(i),
		"--proxy-mode=iptables", "--cluster-cidr=" + clusterCIDR, "--conntrack-max-per-core=0",
		"--bind-address=" + n.NodeIP, "--healthz-bind-address=" + net.JoinHostPort(n.NodeIP, strconv.Itoa(kubeProxyHealthzPort)),
		"--metrics-bind-address=127.0.0.1:10249", "--nodeport-addresses=primary",
	})
}

// kubeProxyHealthy checks kube-proxy's /healthz, which answers 200 once its rules are in place.
func kubeProxyHealthy(nodeIP string) func(context.Context) error {
	return httpOK(http.DefaultClient, "http://"+net.JoinHostPort(nodeIP, strconv.Itoa(kubeProxyHealthzPort))+"/healthz")
}
