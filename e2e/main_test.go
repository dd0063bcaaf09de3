package e2e

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/kubernetes"

	"github.com/berth-dev/berth/internal/cluster"
)

// The cluster every test in this package runs against.
var (
	testCluster *cluster.Cluster
	client      kubernetes.Interface
	binDir      string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped with -short")
		os.Exit(0)
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	binDir, err = filepath.Abs(envOr("BERTH_BIN_DIR", "../_output/bin"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	state, err := os.MkdirTemp("", "berth-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(state)
	cfg := cluster.Default()
	cfg.StateDir = state
	cfg.BinDir = binDir
	cfg.Out = os.Stdout
	// Two nodes, each with its own Podman service and storage, stand for two hosts.
	cfg.Nodes = 2
	// This cluster's nodes share the machine's address (berth up --node-netns=false, the mode of nodes without
	// kube-proxy, such as the helm chart's); TestServicesOnNodeNamespaces starts a cluster of the default mode.
	cfg.NodeNetns = false
	// hostPath volumes may name the built binaries (tests mount kubectl into containers), a test folder, and the
	// nodes' Podman sockets (the helm chart's virtual kubelet runs in a pod with one mounted; see chart_test.go).
	hostDir := filepath.Join(state, "host")
	if err := os.MkdirAll(hostDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg.AllowedHostPaths = []string{binDir, hostDir, filepath.Join(state, "podman")}
	// The second node has a cluster DNS server, lets pods run privileged, use the host's PID and IPC namespaces,
	// add NET_ADMIN and SYS_PTRACE (which kubectl debug adds) and set unsafe kernel.msg* sysctls; the first has none
	// of these, as a plain `berth up` node (see podspec_test.go, hardening_test.go, namespaces_test.go,
	// ephemeral_test.go, sysctl_test.go). The first reports its pods Unknown, and itself NotReady, after a shorter
	// Podman outage than the defaults of 40 s and 30 s (see outage_test.go); only an outage notices.
	cfg.KubeletArgs = map[int][]string{
		0: {"--podman-unreachable-grace=" + outageGrace.String(), "--podman-unreachable-node-grace=" + outageNodeGrace.String(),
			"--max-container-restart-period=" + restartPeriodCap.String()},
		1: {"--cluster-dns=" + clusterDNS, "--allow-privileged", "--allow-host-namespaces", "--allowed-capabilities=" + allowedCapability + "," + debugCapability,
			"--allowed-unsafe-sysctls=" + allowedUnsafeSysctls},
	}
	ports := freePorts(8)
	cfg.APIServerPort, cfg.EtcdPort, cfg.EtcdPeerPort = ports[0], ports[1], ports[2]
	cfg.ControllerManagerPort, cfg.SchedulerPort, cfg.KubeletPort = ports[3], ports[4], ports[5]
	cfg.MetricsServerPort = ports[6]
	// Registry mirrors (see mirrors_test.go): every node's Podman mirrors podmanMirrorHost to a registry on
	// mirrorAddr (berth up --registries-config); the second node's virtual kubelet pulls kubeletMirrorHost through
	// it itself (berth-kubelet --registries-config), as the helm chart's kubelet.registriesConf does.
	mirrorAddr = fmt.Sprintf("127.0.0.1:%d", ports[7])
	if cfg.RegistriesConfig, err = writeMirrorConfig(state, "registries.conf", podmanMirrorHost); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	kubeletRegistries, err := writeMirrorConfig(state, "kubelet-registries.conf", kubeletMirrorHost)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg.KubeletArgs[1] = append(cfg.KubeletArgs[1], "--registries-config="+kubeletRegistries)
	ctx := context.Background()
	testCluster, err = cluster.Up(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: berth up: %v\n", err)
		return 1
	}
	defer testCluster.Stop(ctx)
	client = testCluster.Client()
	return m.Run()
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// freePorts finds n distinct free TCP ports.
func freePorts(n int) []int {
	var ls []net.Listener
	var out []int
	for len(out) < n {
		l, err := net.Listen("tcp", "0.0.0.0:0")
		if err != nil {
			panic(fmt.Sprintf("find a free port: %v", err))
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}
