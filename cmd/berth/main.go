// Command berth runs a local Kubernetes cluster whose nodes are Podman hosts.
package main

import (
	"os"

	"github.com/berth-dev/berth/cmd/berth/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:], os.Stdout, os.Stderr))
}
