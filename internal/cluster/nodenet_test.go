package cluster

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestParseRouteEntry(t *testing.T) {
	for _, tc := range []struct {
		dst, mask, want string
	}{
		{"0001A8C0", "00FFFFFF", "192.168.1.0/24"},
		{"00005A0A", "0000FFFF", "10.90.0.0/16"},
		{"00000000", "00000000", ""}, // default route
		{"zz", "00FFFFFF", ""},
		{"0001A8C0", "00FF", ""},
	} {
		got := parseRouteEntry(tc.dst, tc.mask)
		if s := ""; got != nil {
			s = got.String()
			if s != tc.want {
				t.Errorf("parseRouteEntry(%s, %s) = %s, want %s", tc.dst, tc.mask, s, tc.want)
			}
		} else if tc.want != "" {
			t.Errorf("parseRouteEntry(%s, %s) = nil, want %s", tc.dst, tc.mask, tc.want)
		}
	}
}

func TestNodeNets(t *testing.T) {
	c := &Cluster{cfg: Config{StateDir: "/state/a", Nodes: 3}}
	nets := c.nodeNets()
	if len(nets) != 3 {
		t.Fatalf("%d namespaces for 3 nodes", len(nets))
	}
	seen := map[string]bool{}
	for i, n := range nets {
		if !strings.HasPrefix(n.Netns, netnsPrefix("/state/a")) || n.Path() != "/run/netns/"+n.Netns {
			t.Errorf("node %d: namespace %q (path %s) outside the cluster's prefix %q", i, n.Netns, n.Path(), netnsPrefix("/state/a"))
		}
		if len(n.HostIf) > 15 {
			t.Errorf("node %d: interface name %q longer than 15 bytes", i, n.HostIf)
		}
		// The machine's and the node's ends share one /30 that holds neither its network nor its broadcast address.
		_, link, err := net.ParseCIDR(n.HostIP + "/30")
		if err != nil {
			t.Fatalf("node %d: host address %q: %v", i, n.HostIP, err)
		}
		host, node := net.ParseIP(n.HostIP).To4(), net.ParseIP(n.NodeIP).To4()
		if !link.Contains(node) || host[3]%4 != 1 || node[3]%4 != 2 {
			t.Errorf("node %d: link %s–%s is not one /30", i, n.HostIP, n.NodeIP)
		}
		_, cidr, err := net.ParseCIDR(clusterCIDR)
		if err != nil {
			t.Fatal(err)
		}
		if ip, _, err := net.ParseCIDR(n.PodCIDR); err != nil || !cidr.Contains(ip) {
			t.Errorf("node %d: pod subnet %q outside %s (%v)", i, n.PodCIDR, clusterCIDR, err)
		}
		for _, v := range []string{n.Netns, n.HostIf, n.HostIP, n.NodeIP, n.PodCIDR} {
			if seen[v] {
				t.Errorf("node %d: %s is another node's too", i, v)
			}
			seen[v] = true
		}
	}
	if other := netnsPrefix("/state/b"); other == netnsPrefix("/state/a") {
		t.Errorf("two state folders share the namespace prefix %s", other)
	}
}

func TestContainersConfRunsNetavarkInTheNodeNamespace(t *testing.T) {
	empty, lib := t.TempDir(), t.TempDir()
	if _, err := netavarkWrapper("/run/netns/x", []string{empty}); err == nil || !strings.Contains(err.Error(), "apt-get install netavark") {
		t.Errorf("no netavark anywhere: error %v, want one that says how to install it", err)
	}
	if err := os.WriteFile(filepath.Join(lib, "netavark"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper, err := netavarkWrapper("/run/netns/berth-0000abcd-1", []string{empty, lib})
	if err != nil {
		t.Fatal(err)
	}
	if want := "exec nsenter --net=/run/netns/berth-0000abcd-1 " + filepath.Join(lib, "netavark") + " \"$@\"\n"; !strings.HasPrefix(wrapper, "#!/bin/sh\n") ||
		!strings.HasSuffix(wrapper, want) {
		t.Errorf("wrapper:\n%s\nwant it to end with %s", wrapper, want)
	}
	conf := containersConf("/state/podman/1", append([]string{"/state/podman/1/helpers"}, netavarkPaths...))
	var doc struct {
		Engine struct {
			HelperBinariesDir []string `toml:"helper_binaries_dir"`
		} `toml:"engine"`
	}
	if _, err := toml.Decode(conf, &doc); err != nil {
		t.Fatalf("containers.conf does not parse: %v\n%s", err, conf)
	}
	if got := doc.Engine.HelperBinariesDir; len(got) != 1+len(netavarkPaths) || got[0] != "/state/podman/1/helpers" {
		t.Errorf("helper_binaries_dir = %q, want the wrapper's folder first, then Podman's defaults", got)
	}
}

func TestPodmanNetworkSubnet(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want string
	}{
		{"netavark's file", `{"name": "berth", "subnets": [{"subnet": "10.89.43.0/24", "gateway": "10.89.43.1"}]}`, "10.89.43.0/24"},
		{"no subnet", `{"name": "berth", "subnets": []}`, ""},
		{"not a subnet", `{"subnets": [{"subnet": "nope"}]}`, ""},
		{"not JSON", `{`, ""},
		{"absent", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
			if tc.content != "" {
				if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := podmanNetworkSubnet(path); got != tc.want {
				t.Errorf("podmanNetworkSubnet = %q, want %q", got, tc.want)
			}
		})
	}
	// A node whose Podman kept its network keeps its subnet.
	c := &Cluster{cfg: Config{StateDir: dir, Nodes: 1}, hosts: []podmanHost{{index: 0, dir: filepath.Join(dir, "podman", "0")}}}
	if err := os.MkdirAll(filepath.Join(dir, "podman", "0", "networks"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "podman", "0", "networks", "berth.json"), []byte(`{"subnets": [{"subnet": "10.89.7.0/24"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := c.nodeNets()[0].PodCIDR; got != "10.89.7.0/24" {
		t.Errorf("pod subnet %s, want the kept network's 10.89.7.0/24", got)
	}
}

func TestHostRules(t *testing.T) {
	nets := []nodeNet{{HostIP: "100.64.43.1", NodeIP: "100.64.43.2"}, {HostIP: "100.64.43.5", NodeIP: "100.64.43.6"}}
	rules := hostRules("/state/a", nets)
	if len(rules) != 4 {
		t.Fatalf("%d rules, want 4: %q", len(rules), rules)
	}
	if reject := strings.Join(rules[3], " "); !strings.HasPrefix(reject, "-t filter -I FORWARD -i "+hostIfPrefix("/state/a")+"+ -d "+serviceCIDR) || !strings.HasSuffix(reject, "-j REJECT") {
		t.Errorf("the last rule %q, want the nodes' traffic to the Service range rejected, inserted first", reject)
	}
	egress := strings.Join(rules[2], " ")
	if want := "-t nat -A POSTROUTING -s 100.64.43.0/24 ! -o " + hostIfPrefix("/state/a") + "+"; !strings.HasPrefix(egress, want) || !strings.HasSuffix(egress, "-j MASQUERADE") {
		t.Errorf("egress rule %q, want it to start with %q and masquerade", egress, want)
	}
	// Listed back by iptables -S, each rule is found by its mark and turned into its deletion; another cluster's
	// and others' rules are left alone.
	var listing strings.Builder
	listing.WriteString("-P FORWARD ACCEPT\n-A FORWARD -m comment --comment \"netavark firewall plugin rules\" -j NETAVARK_FORWARD\n")
	for _, r := range rules {
		spec := []string{}
		for i := 0; i < len(r); i++ {
			switch r[i] {
			case "-t":
				i++
			case "-I":
				spec = append(spec, "-A")
			case "--comment":
				spec = append(spec, r[i], `"`+r[i+1]+`"`)
				i++
			default:
				spec = append(spec, r[i])
			}
		}
		listing.WriteString(strings.Join(spec, " ") + "\n")
	}
	for _, r := range hostRules("/state/b", nets) {
		listing.WriteString("-A " + strings.Join(r[3:], " ") + "\n")
	}
	dels := rulesToDelete(listing.String(), netnsPrefix("/state/a"))
	if len(dels) != 4 {
		t.Fatalf("deletions %q, want the 4 rules of /state/a", dels)
	}
	for _, d := range dels {
		if d[0] != "-D" || (d[1] != "FORWARD" && d[1] != "POSTROUTING") || strings.Contains(strings.Join(d, " "), `"`) {
			t.Errorf("deletion %q", d)
		}
	}
	if hostRules("/state/a", nil) != nil {
		t.Error("rules for no nodes")
	}
}
