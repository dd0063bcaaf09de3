// Package registries reads the containers-registries.conf(5) files a user gives Berth (berth up
// --registries-config, berth-kubelet --registries-config): registry mirrors, insecure and blocked registries,
// short-name settings.
//
// A file is read strictly (an unknown key is an error, never ignored), must be in version 2 format, and is checked
// by containers/image's own parser (sysregistriesv2), the code Podman reads it with, so that a bad file is refused
// with one line before anything starts.
//
// NodeConfig merges a user's file with Berth's own entries into the registries.conf of the Podman services berth
// up runs. PullSources resolves an image into the references to pull it from, mirrors first, for a virtual
// kubelet whose Podman service Berth cannot configure.
package registries
