// Package manifests holds the YAML that Berth ships, embedded so that berth up uses the same files users read.
package manifests

import _ "embed"

// SchedulerConfig is the KubeSchedulerConfiguration with the default-scheduler and berth-scheduler profiles.
//
//go:embed scheduler-config.yaml
var SchedulerConfig []byte
