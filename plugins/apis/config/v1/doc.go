// Package v1 is the versioned (kubescheduler.config.k8s.io/v1) form of the arguments of Berth's scheduling
// plugins, with defaults and conversion to the internal types.
package v1
