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
// persistentVolumeClaim and generic ephemeral volumes are mounted as a kubelet without CSI drivers mounts them: the
// claim and its PersistentVolume are read from the API (claims.go), and a hostPath or local volume's path is
// bound into the containers, recorded as a symbolic link pods/<uid>/volumes/kubernetes.io~{host-path,local-volume}/
// <name>. A claim not bound yet is waited for; a volume of another source is refused (RefusedError).
//
// The Manager talks to nothing but the disk and what its Config gives it (informer caches, a token getter, the
// node's allocatable, an API client for claims); the admission of volumes (which kinds and hostPaths a node
// accepts) is not its job: it applies podspec's to the PersistentVolumes of claims, which only it sees.
package volume
