// Command berth-scheduler is kube-scheduler with Berth's scheduling plugins compiled in.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"

	"github.com/berth-dev/berth/plugins/podmanbind"
	"github.com/berth-dev/berth/plugins/podmanfit"
	"github.com/berth-dev/berth/plugins/podmanscore"
)

func main() {
	command := app.NewSchedulerCommand(
		app.WithPlugin(podmanfit.Name, podmanfit.New),
		app.WithPlugin(podmanscore.Name, podmanscore.New),
		app.WithPlugin(podmanbind.Name, podmanbind.New),
	)
	os.Exit(cli.Run(command))
}
