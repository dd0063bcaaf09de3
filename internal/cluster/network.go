package cluster

import (
	"fmt"
	"hash/fnv"
	"net"
)

// Each node's pods join a bridge network of their own. Several berth clusters may run on one machine (a user's and
// the tests'), so the bridge name and subnet derive from the state folder: stable across restarts of one cluster
// (Podman keeps the network it created), apart between clusters.

func (c *Cluster) stateHash() uint32 { return stateHashOf(c.cfg.StateDir) }

// stateHashOf is the hash of a (completed, absolute) state folder that names what berth makes for it on the machine.
func stateHashOf(stateDir string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(stateDir))
	return h.Sum32()
}

// bridgeName is node i's bridge interface: "bth" + 4 hex digits of the state's hash + the node index (≤ 15 bytes).
func (c *Cluster) bridgeName(i int) string {
	return fmt.Sprintf("%s%d", bridgePrefix(c.cfg.StateDir), i)
}

// bridgePrefix names the pods' bridges of the cluster on stateDir.
func bridgePrefix(stateDir string) string {
	return fmt.Sprintf("bth%04x", stateHashOf(stateDir)&0xffff)
}

// removeHostBridges removes the pods' bridges that the cluster on stateDir left on the machine (nodes on the
// machine's address, --node-netns=false): netavark keeps a bridge after its last pod is gone.
func removeHostBridges(stateDir string) error {
	return deleteLinks(bridgePrefix(stateDir), "pods' bridge")
}

// subnet picks node i's /24 in 10.89.0.0/16 (clusterCIDR): nodes in turn take the first /24 from a place derived
// from the state folder that no interface or route of this machine uses and no earlier node took. It only matters the first time: a
// network that exists keeps its subnet.
func (c *Cluster) subnet(i int) string { return c.subnetAvoiding(i, nil) }

// subnetAvoiding is subnet(i) with the networks taken counted as used too.
func (c *Cluster) subnetAvoiding(i int, taken []*net.IPNet) string {
	used := append(hostSubnets(), taken...)
	base := int(c.stateHash() % 256)
	picked := map[int]bool{}
	k := 0
	for j := 0; j <= i; j++ {
		k = freeSlash24(10, 89, base+j, used, picked)
		picked[k] = true
	}
	return fmt.Sprintf("10.89.%d.0/24", k)
}

// freeSlash24 is the third byte k of the first /24 a.b.k.0 from base on (wrapping) that neither used nor picked
// holds; when all are taken, the last one tried.
func freeSlash24(a, b byte, base int, used []*net.IPNet, picked map[int]bool) int {
	k := 0
	for step := 0; step < 256; step++ {
		k = (base + step) % 256
		if !picked[k] && !inUse(used, net.IPv4(a, b, byte(k), 1)) {
			break
		}
	}
	return k
}

func inUse(used []*net.IPNet, ip net.IP) bool {
	for _, n := range used {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// hostSubnets lists the IPv4 networks of this machine's interfaces and routes (a node's pod subnet is routed to its
// network namespace, see nodenet.go).
func hostSubnets() []*net.IPNet {
	out := routedSubnets()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return out
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			out = append(out, n)
		}
	}
	return out
}
