// Command iptables-wrapper stands for iptables, iptables-save, iptables-restore and their ip6tables twins in the
// kube-proxy image of Berth's offline kind node image. The first call finds which iptables backend the node uses
// (legacy or nft, as upstream's sigs.k8s.io/iptables-wrappers does: the kubelet's hint chains first, then which
// backend holds more rules), points those names at that backend for the calls after it, and runs the command.
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// commands are the names the wrapper stands for, each a symlink to it in the same folder.
var commands = []string{"iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore"}

// hintChains are the chains the kubelet creates in the mangle table of the backend it uses.
var hintChains = []string{":KUBE-IPTABLES-HINT", ":KUBE-KUBELET-CANARY"}

func main() {
	name := filepath.Base(os.Args[0])
	dir := filepath.Dir(os.Args[0])
	if !filepath.IsAbs(dir) {
		dir = "/usr/sbin"
	}
	mode := detect(save)
	for _, c := range commands {
		link := filepath.Join(dir, c)
		tmp := link + ".tmp"
		_ = os.Remove(tmp)
		if err := os.Symlink("xtables-"+mode+"-multi", tmp); err == nil {
			_ = os.Rename(tmp, link)
		}
	}
	bin := filepath.Join(dir, "xtables-"+mode+"-multi")
	if err := syscall.Exec(bin, append([]string{name}, os.Args[1:]...), os.Environ()); err != nil {
		fmt.Fprintf(os.Stderr, "iptables-wrapper: run %s as %s: %v\n", bin, name, err)
		os.Exit(1)
	}
}

// save returns the output of iptables-save (or ip6tables-save, when ipv6) of a backend for a table ("" for all).
func save(mode string, ipv6 bool, table string) string {
	cmd := "iptables-save"
	if ipv6 {
		cmd = "ip6tables-save"
	}
	args := []string{cmd}
	if table != "" {
		args = append(args, "-t", table)
	}
	c := exec.Command("xtables-"+mode+"-multi", args...)
	var out bytes.Buffer
	c.Stdout = &out
	_ = c.Run()
	return out.String()
}

// detect returns "legacy" or "nft": the backend whose mangle table has the kubelet's hint chains, else the one with
// more rules (legacy on a tie, as kind's entrypoint decides for the node).
func detect(save func(mode string, ipv6 bool, table string) string) string {
	for _, mode := range []string{"legacy", "nft"} {
		for _, ipv6 := range []bool{false, true} {
			mangle := save(mode, ipv6, "mangle")
			for _, c := range hintChains {
				if strings.Contains(mangle, c) {
					return mode
				}
			}
		}
	}
	rules := map[string]int{}
	for _, mode := range []string{"legacy", "nft"} {
		for _, ipv6 := range []bool{false, true} {
			for _, line := range strings.Split(save(mode, ipv6, ""), "\n") {
				if strings.HasPrefix(line, "-") {
					rules[mode]++
				}
			}
		}
	}
	if rules["nft"] > rules["legacy"] {
		return "nft"
	}
	return "legacy"
}
