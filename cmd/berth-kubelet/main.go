// Command berth-kubelet is Berth's virtual kubelet: a Kubernetes node whose pods run on a Podman host.
package main

import (
	"os"

	"k8s.io/component-base/cli"

	"github.com/berth-dev/berth/cmd/berth-kubelet/app"
)

func main() {
	os.Exit(cli.Run(app.NewCommand()))
}
