package main

import "testing"

func TestDetect(t *testing.T) {
	type key struct {
		mode  string
		ipv6  bool
		table string
	}
	tests := []struct {
		name  string
		saves map[key]string
		want  string
	}{
		{name: "nothing anywhere: legacy, as kind's entrypoint", want: "legacy"},
		{
			name:  "kubelet hint in nft mangle",
			saves: map[key]string{{"nft", false, "mangle"}: "*mangle\n:KUBE-IPTABLES-HINT - [0:0]\nCOMMIT\n"},
			want:  "nft",
		},
		{
			name: "kubelet canary in legacy ip6 mangle wins over more nft rules",
			saves: map[key]string{
				{"legacy", true, "mangle"}: "*mangle\n:KUBE-KUBELET-CANARY - [0:0]\n",
				{"nft", false, ""}:         "-A FORWARD -j ACCEPT\n-A INPUT -j ACCEPT\n",
			},
			want: "legacy",
		},
		{
			name: "no hint: nft has more rules",
			saves: map[key]string{
				{"legacy", false, ""}: "-A INPUT -j ACCEPT\n",
				{"nft", false, ""}:    "-A FORWARD -j ACCEPT\n-A INPUT -j ACCEPT\n",
			},
			want: "nft",
		},
		{
			name: "no hint: a tie is legacy",
			saves: map[key]string{
				{"legacy", true, ""}: "-A INPUT -j ACCEPT\n",
				{"nft", false, ""}:   "-A INPUT -j ACCEPT\n# -A comment\n",
			},
			want: "legacy",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := detect(func(mode string, ipv6 bool, table string) string { return tc.saves[key{mode, ipv6, table}] })
			if got != tc.want {
				t.Errorf("detect = %s, want %s", got, tc.want)
			}
		})
	}
}
