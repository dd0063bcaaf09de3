// Package config holds the internal types of the arguments of Berth's scheduling plugins, registered in the
// kube-scheduler's configuration group (kubescheduler.config.k8s.io) so that a KubeSchedulerConfiguration's
// pluginConfig can carry them. The versioned form is in v1, validation in validation.
package config
