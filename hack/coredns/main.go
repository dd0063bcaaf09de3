// Command coredns is CoreDNS with only the plugins that kubeadm's default Corefile uses, plus log and hosts, for
// Berth's cluster DNS. It is CoreDNS's own coremain: the flags, the Corefile syntax and the plugins' behaviour are
// upstream's; only the set of plugins linked in is smaller.
package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	// The plugins, one package each; metrics is the prometheus directive.
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

// plugins are the directives this build serves: kubeadm's Corefile (errors, health, ready, kubernetes, prometheus,
// forward, cache, loop, reload, loadbalance) and log and hosts for debugging and static names.
var plugins = []string{
	"errors", "health", "ready", "kubernetes", "prometheus", "forward", "cache", "loop", "reload", "loadbalance",
	"log", "hosts",
}

// directives returns upstream's directive list (the order in which plugins handle a query) cut down to want.
func directives(upstream, want []string) ([]string, error) {
	out := slices.DeleteFunc(slices.Clone(upstream), func(d string) bool { return !slices.Contains(want, d) })
	for _, w := range want {
		if !slices.Contains(out, w) {
			return nil, fmt.Errorf("plugin %q is not in CoreDNS's directive list", w)
		}
	}
	return out, nil
}

func main() {
	ds, err := directives(dnsserver.Directives, plugins)
	if err == nil {
		err = dnsserver.SetDirectives(ds)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "coredns:", err)
		os.Exit(1)
	}
	coremain.Run()
}
