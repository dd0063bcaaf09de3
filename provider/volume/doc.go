// Package volume is Berth's volume manager, as the kubelet's volumemanager: it makes a pod's volumes on the
// node's disk under the root directory, binds them into its containers, and removes them when the pod goes.
//
// Each volume Berth keeps on the host has a folder pods/<uid>/volumes/<plugin>/<name>, named as the kubelet names
// it: emptyDir (a tmpfs of the sized limit for medium Memory), and the API data volumes configMap, secret,
// downwardAPI and projected (service account tokens among them), whose files are written atomically and
// refreshed while the pod runs. hostPath volumes are the host's own paths, checked against their type; subPath and
// subPathExpr are resolved inside their volume, never out of it; fsGroup is applied as the kubelet's
// SetVolumeOwnership does. Disk emptyDirs are measured against their sizeLimit for the eviction the runner decides.
//
// The Manager talks to nothing but the disk and what its Config gives it (informer caches, a token getter, the
// node's allocatable); the admission of volumes (which kinds and hostPaths a node accepts) is not its job.
package volume
