package app

import (
	"testing"

	"github.com/berth-dev/berth/internal/cluster"
)

func TestWithPodmanURLs(t *testing.T) {
	for _, tc := range []struct {
		name      string
		urls      []string
		netns     bool // --node-netns's value
		netnsSet  bool // given on the command line
		wantNetns bool
	}{
		{name: "berth's own Podman: node namespaces by default", netns: true, wantNetns: true},
		{name: "berth's own Podman, --node-netns=false", netns: false, netnsSet: true, wantNetns: false},
		{name: "--podman-url: the machine's address by default", urls: []string{"unix:///run/podman/podman.sock"}, netns: true, wantNetns: false},
		{name: "--podman-url with --node-netns kept for complete to refuse", urls: []string{"unix:///run/podman/podman.sock"}, netns: true, netnsSet: true, wantNetns: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := cluster.Default()
			cfg.NodeNetns = tc.netns
			got := withPodmanURLs(cfg, tc.urls, tc.netnsSet)
			if got.NodeNetns != tc.wantNetns || len(got.PodmanURLs) != len(tc.urls) {
				t.Errorf("NodeNetns %v, PodmanURLs %v; want %v, %v", got.NodeNetns, got.PodmanURLs, tc.wantNetns, tc.urls)
			}
		})
	}
}
