/*
Copyright 2016 The Kubernetes Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package volume

// The kubelet's AtomicWriter (k8s.io/kubernetes/pkg/volume/util, atomic_writer.go of v1.37.2), as Berth uses it:
// the same steps and the same layout on disk, without the file owners of the AtomicWriteVolumeUserFields feature
// (Berth gives a volume's files to the pod with setPerms) and without Windows. Importing that package linked the
// kubelet's volume plugin framework and everything it imports (mount-utils, the legacy scheme, fsquota, the kubelet
// server's metrics), initialized at every start, for this one writer.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"
)

const (
	maxFileNameLength = 255
	maxPathLength     = 4096

	dataDirName    = "..data"
	newDataDirName = "..data_tmp"
)

// FileProjection is the content and mode of one file of a volume's payload.
type FileProjection struct {
	Data []byte
	Mode int32
}

// atomicWriter projects a payload of files into a folder atomically, as the kubelet does for configMap, secret,
// downwardAPI and projected volumes. The visible files are symlinks into the ..data symlink, which points to a
// hidden timestamped folder holding the files; an update writes a new timestamped folder and renames a new symlink
// over ..data, so that a reader sees the old files or the new ones, never a mix. Paths starting with ".." are
// reserved. The caller serializes the writes of one folder.
type atomicWriter struct {
	targetDir string
}

// newAtomicWriter returns a writer into targetDir, which must exist.
func newAtomicWriter(targetDir string) (*atomicWriter, error) {
	if _, err := os.Stat(targetDir); os.IsNotExist(err) {
		return nil, err
	}
	return &atomicWriter{targetDir: targetDir}, nil
}

// write projects payload into the writer's folder, as the kubelet's AtomicWriter.Write: the payload is checked;
// unless the current timestamped folder already holds it, a new one is written, setPerms (if not nil) is called
// with its name, and ..data is swapped to it; the visible symlinks of new top-level paths are made and those of
// paths no longer in the payload removed; the old timestamped folder goes.
func (w *atomicWriter) write(ctx context.Context, payload map[string]FileProjection, setPerms func(subPath string) error) error {
	logger := klog.FromContext(ctx).WithValues("dir", w.targetDir)
	cleanPayload, err := validatePayload(payload)
	if err != nil {
		return err
	}

	dataDirPath := filepath.Join(w.targetDir, dataDirName)
	oldTsDir, err := os.Readlink(dataDirPath)
	if err != nil {
		if !os.IsNotExist(err) {
			return fmt.Errorf("read the data folder's link: %w", err)
		}
		oldTsDir = ""
	}
	oldTsPath := filepath.Join(w.targetDir, oldTsDir)

	var pathsToRemove sets.Set[string]
	shouldWrite := true
	if len(oldTsDir) != 0 {
		pathsToRemove, err = w.pathsToRemove(cleanPayload, oldTsPath)
		if err != nil {
			return fmt.Errorf("find the visible files to remove: %w", err)
		}
		if should, err := shouldWritePayload(cleanPayload, oldTsPath); err != nil {
			return fmt.Errorf("compare the payload with the files written: %w", err)
		} else if !should && len(pathsToRemove) == 0 {
			logger.V(4).Info("Volume files up to date", "dataDir", oldTsDir)
			// The data folder is up to date, but the visible symlinks must still be made (kubernetes#121472);
			// the data folder stays.
			shouldWrite = false
			oldTsDir = ""
		}
	}

	if shouldWrite {
		tsDir, err := w.newTimestampDir()
		if err != nil {
			return err
		}
		tsDirName := filepath.Base(tsDir)
		if err := writePayloadToDir(cleanPayload, tsDir); err != nil {
			return fmt.Errorf("write the payload to %s: %w", tsDir, err)
		}
		logger.V(4).Info("Wrote volume files", "dataDir", tsDir)
		if setPerms != nil {
			if err := setPerms(tsDirName); err != nil {
				return fmt.Errorf("apply ownership: %w", err)
			}
		}
		newDataDirPath := filepath.Join(w.targetDir, newDataDirName)
		if err := os.Symlink(tsDirName, newDataDirPath); err != nil {
			if rmErr := os.RemoveAll(tsDir); rmErr != nil {
				logger.Error(rmErr, "Removing the new data folder", "dataDir", tsDir)
			}
			return fmt.Errorf("link the new data folder: %w", err)
		}
		if err := os.Rename(newDataDirPath, dataDirPath); err != nil {
			if rmErr := os.Remove(newDataDirPath); rmErr != nil && !os.IsNotExist(rmErr) {
				logger.Error(rmErr, "Removing the new data folder's link", "link", newDataDirPath)
			}
			if rmErr := os.RemoveAll(tsDir); rmErr != nil {
				logger.Error(rmErr, "Removing the new data folder", "dataDir", tsDir)
			}
			return fmt.Errorf("swap the data folder's link: %w", err)
		}
	}

	if err := w.createUserVisibleFiles(cleanPayload); err != nil {
		return fmt.Errorf("make the visible symlinks: %w", err)
	}
	if err := w.removeUserVisiblePaths(ctx, pathsToRemove); err != nil {
		return fmt.Errorf("remove old visible symlinks: %w", err)
	}
	if len(oldTsDir) > 0 {
		if err := os.RemoveAll(oldTsPath); err != nil {
			return fmt.Errorf("remove the old data folder %s: %w", oldTsDir, err)
		}
	}
	return nil
}

// validatePayload checks every path of the payload and returns a copy with the paths cleaned.
func validatePayload(payload map[string]FileProjection) (map[string]FileProjection, error) {
	cleanPayload := make(map[string]FileProjection, len(payload))
	for k, content := range payload {
		if err := validatePath(k); err != nil {
			return nil, err
		}
		cleanPayload[filepath.Clean(k)] = content
	}
	return cleanPayload, nil
}

// validatePath refuses a path that is empty, absolute, longer than 4096 characters, with a '..' element or a name
// longer than 255 characters, or starting with '..'.
func validatePath(targetPath string) error {
	if targetPath == "" {
		return fmt.Errorf("invalid path: must not be empty: %q", targetPath)
	}
	if path.IsAbs(targetPath) {
		return fmt.Errorf("invalid path: must be relative path: %s", targetPath)
	}
	if len(targetPath) > maxPathLength {
		return fmt.Errorf("invalid path: must be less than or equal to %d characters", maxPathLength)
	}
	items := strings.Split(targetPath, string(os.PathSeparator))
	for _, item := range items {
		if item == ".." {
			return fmt.Errorf("invalid path: must not contain '..': %s", targetPath)
		}
		if len(item) > maxFileNameLength {
			return fmt.Errorf("invalid path: filenames must be less than or equal to %d characters", maxFileNameLength)
		}
	}
	if strings.HasPrefix(items[0], "..") && len(items[0]) > 2 {
		return fmt.Errorf("invalid path: must not start with '..': %s", targetPath)
	}
	return nil
}

// shouldWritePayload tells whether any file of the payload differs from what oldTsDir holds.
func shouldWritePayload(payload map[string]FileProjection, oldTsDir string) (bool, error) {
	for userVisiblePath, fileProjection := range payload {
		shouldWrite, err := shouldWriteFile(filepath.Join(oldTsDir, userVisiblePath), fileProjection.Data)
		if err != nil {
			return false, err
		}
		if shouldWrite {
			return true, nil
		}
	}
	return false, nil
}

// shouldWriteFile tells whether path is missing or holds other content.
func shouldWriteFile(path string, content []byte) (bool, error) {
	if _, err := os.Lstat(path); os.IsNotExist(err) {
		return true, nil
	}
	contentOnFs, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	return !bytes.Equal(content, contentOnFs), nil
}

// pathsToRemove lists the paths of the current data folder that the payload no longer has (a folder of a path it
// has stays).
func (w *atomicWriter) pathsToRemove(payload map[string]FileProjection, oldTSDir string) (sets.Set[string], error) {
	paths := sets.New[string]()
	visitor := func(path string, _ os.FileInfo, _ error) error {
		relativePath := strings.TrimPrefix(path, oldTSDir)
		relativePath = strings.TrimPrefix(relativePath, string(os.PathSeparator))
		if relativePath == "" {
			return nil
		}
		paths.Insert(relativePath)
		return nil
	}
	err := filepath.Walk(oldTSDir, visitor)
	if os.IsNotExist(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	newPaths := sets.New[string]()
	for file := range payload {
		// Every folder of a new path too, so that no folder still holding files is removed.
		for subPath := file; subPath != ""; {
			newPaths.Insert(subPath)
			subPath, _ = filepath.Split(subPath)
			subPath = strings.TrimSuffix(subPath, string(os.PathSeparator))
		}
	}
	return paths.Difference(newPaths), nil
}

// newTimestampDir makes a new timestamped data folder, mode 0755 whatever the umask so that group and others can
// walk it.
func (w *atomicWriter) newTimestampDir() (string, error) {
	tsDir, err := os.MkdirTemp(w.targetDir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return "", fmt.Errorf("make a new data folder: %w", err)
	}
	if err := os.Chmod(tsDir, 0o755); err != nil {
		return "", fmt.Errorf("set the mode of the new data folder: %w", err)
	}
	return tsDir, nil
}

// writePayloadToDir writes the payload's files below dir, which exists, each with its mode whatever the umask.
func writePayloadToDir(payload map[string]FileProjection, dir string) error {
	for userVisiblePath, fileProjection := range payload {
		content := fileProjection.Data
		mode := os.FileMode(fileProjection.Mode)
		fullPath := filepath.Join(dir, userVisiblePath)
		baseDir, _ := filepath.Split(fullPath)
		if err := os.MkdirAll(baseDir, os.ModePerm); err != nil {
			return fmt.Errorf("make folder %s: %w", baseDir, err)
		}
		if err := os.WriteFile(fullPath, content, mode); err != nil {
			return fmt.Errorf("write file %s with mode %v: %w", fullPath, mode, err)
		}
		// WriteFile's mode goes through the umask.
		if err := os.Chmod(fullPath, mode); err != nil {
			return fmt.Errorf("set mode %v of file %s: %w", mode, fullPath, err)
		}
	}
	return nil
}

// createUserVisibleFiles makes the symlink into ..data of each top-level path of the payload that has none yet:
// for "bar", "foo/bar" and "foo/baz/blah", bar -> ..data/bar and foo -> ..data/foo.
func (w *atomicWriter) createUserVisibleFiles(payload map[string]FileProjection) error {
	for userVisiblePath := range payload {
		slashpos := strings.Index(userVisiblePath, string(os.PathSeparator))
		if slashpos == -1 {
			slashpos = len(userVisiblePath)
		}
		linkname := userVisiblePath[:slashpos]
		if _, err := os.Readlink(filepath.Join(w.targetDir, linkname)); err != nil && os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join(dataDirName, linkname), filepath.Join(w.targetDir, linkname)); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeUserVisiblePaths removes the visible symlinks of the top-level paths among paths; it goes on past a
// failure and returns the last one.
func (w *atomicWriter) removeUserVisiblePaths(ctx context.Context, paths sets.Set[string]) error {
	var lasterr error
	for p := range paths {
		if strings.Contains(p, string(os.PathSeparator)) {
			continue
		}
		if err := os.Remove(filepath.Join(w.targetDir, p)); err != nil {
			klog.FromContext(ctx).Error(err, "Pruning an old visible path", "dir", w.targetDir, "path", p)
			lasterr = err
		}
	}
	return lasterr
}
