// Package podman is Berth's only door to Podman: a small Runtime interface that the provider's lifecycle and
// status logic are written against, and its implementation over Podman's REST API (pkg/bindings).
//
// Everything Podman-specific (spec generation, API quirks of older services) stays here, so that the provider
// can be tested on a fake Runtime.
package podman
