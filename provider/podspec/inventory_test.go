package podspec

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestInventoryCoversPodSpec walks corev1.PodSpec by reflection and fails for every field the inventory does not
// cover, so that a field the next Kubernetes version adds cannot be ignored in silence, and for every row that
// names no field or breaks the table's rules.
func TestInventoryCoversPodSpec(t *testing.T) {
	for _, problem := range checkInventory(inventory, podSpecFields()) {
		t.Error(problem)
	}
}

// TestCheckInventoryReportsMissingFields checks the checker itself: the table with one row removed reports the
// fields that row covered, and rows naming nothing or covering a field twice are reported too.
func TestCheckInventoryReportsMissingFields(t *testing.T) {
	fields := podSpecFields()
	without := func(path string) []Field {
		i := slices.IndexFunc(inventory, func(f Field) bool { return f.Path == path })
		if i < 0 {
			t.Fatalf("no row %s", path)
		}
		return slices.Delete(slices.Clone(inventory), i, i+1)
	}
	tests := []struct {
		name  string
		table []Field
		want  []string
	}{
		{name: "complete table"},
		{name: "an honoured field removed", table: without("spec.hostNetwork"),
			want: []string{"spec.hostNetwork: not in the inventory"}},
		{name: "a refused subtree removed", table: without("spec.volumes.projected.sources.clusterTrustBundle"),
			want: []string{
				"spec.volumes.projected.sources.clusterTrustBundle.labelSelector: not in the inventory",
				"spec.volumes.projected.sources.clusterTrustBundle.name: not in the inventory",
				"spec.volumes.projected.sources.clusterTrustBundle.optional: not in the inventory",
				"spec.volumes.projected.sources.clusterTrustBundle.path: not in the inventory",
				"spec.volumes.projected.sources.clusterTrustBundle.signerName: not in the inventory",
				"spec.volumes.projected.sources.clusterTrustBundle.user: not in the inventory",
			}},
		{name: "one alternative of a row removed",
			table: append(without("spec.{hostPID,hostIPC}"), Field{Path: "spec.hostPID", Class: Honoured, Test: "e2e.TestHostNamespaces"}),
			want:  []string{"spec.hostIPC: not in the inventory"}},
		{name: "a row naming no field",
			table: append(slices.Clone(inventory), Field{Path: "spec.containers.nonsense", Class: Refused, Refusal: "x"}),
			want:  []string{"spec.containers.nonsense: in the inventory, not in corev1.PodSpec"}},
		{name: "a field covered twice",
			table: append(slices.Clone(inventory), Field{Path: "spec.affinity.nodeAffinity", Class: NotNodesJob, Why: "x"}),
			want:  []string{"spec.affinity.nodeAffinity: covered by spec.affinity already"}},
		{name: "a row without its proof",
			table: append(without("spec.hostNetwork"), Field{Path: "spec.hostNetwork", Class: Honoured}),
			want:  []string{"spec.hostNetwork: honoured without a test"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table := tc.table
			if table == nil {
				table = inventory
			}
			if got := checkInventory(table, fields); !slices.Equal(got, tc.want) {
				t.Errorf("checkInventory =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// pendingTests are proofs named in the inventory whose tests are being written elsewhere; each is dropped from
// here once it exists.
var pendingTests = map[string]bool{}

// testDirs are the folders (from this package's) of the packages the inventory's tests are named by.
var testDirs = map[string]string{
	"e2e":       "../../e2e",
	"provider":  "..",
	"podspec":   ".",
	"podstatus": "../podstatus",
	"prober":    "../prober",
	"volume":    "../volume",
	"podman":    "../podman",
	"node":      "../node",
}

// TestInventoryTestsExist checks that each test the inventory names as a proof exists, so that a renamed or
// deleted test does not leave a field honoured on paper only.
func TestInventoryTestsExist(t *testing.T) {
	defined := map[string]bool{}
	funcRE := regexp.MustCompile(`(?m)^func (Test\w+)\(`)
	for pkg, dir := range testDirs {
		files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range funcRE.FindAllSubmatch(src, -1) {
				defined[pkg+"."+string(m[1])] = true
			}
		}
	}
	for _, f := range inventory {
		if f.Test == "" {
			continue
		}
		pkg, _, _ := strings.Cut(f.Test, ".")
		switch {
		case testDirs[pkg] == "":
			t.Errorf("%s: test %s is in no package the inventory knows", f.Path, f.Test)
		case !defined[f.Test] && !pendingTests[f.Test]:
			t.Errorf("%s: test %s does not exist", f.Path, f.Test)
		}
	}
}

// podSpecFields lists the path of every field of corev1.PodSpec and of everything nested in it, in kubectl explain's
// notation: structs, pointers, lists and maps are walked into; types of other packages (resource.Quantity,
// intstr.IntOrString, metav1.LabelSelector) are fields without parts.
func podSpecFields() []string {
	var out []string
	var walk func(t reflect.Type, path string, seen []reflect.Type)
	walk = func(t reflect.Type, path string, seen []reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t.PkgPath() != reflect.TypeFor[corev1.PodSpec]().PkgPath() || slices.Contains(seen, t) {
			return
		}
		seen = append(seen, t)
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case name == "-" || !f.IsExported():
			case name == "" && f.Anonymous:
				// Inlined: EphemeralContainer's EphemeralContainerCommon, Volume's VolumeSource, Probe's
				// ProbeHandler.
				walk(f.Type, path, seen)
			default:
				out = append(out, path+"."+name)
				walk(f.Type, path+"."+name, seen)
			}
		}
	}
	walk(reflect.TypeFor[corev1.PodSpec](), "spec", nil)
	return out
}

// expandPath spells out a row's path: each "{a,b}" stands for each of its alternatives.
func expandPath(p string) []string {
	open := strings.IndexByte(p, '{')
	if open < 0 {
		return []string{p}
	}
	end := open + strings.IndexByte(p[open:], '}')
	var out []string
	for _, alt := range strings.Split(p[open+1:end], ",") {
		out = append(out, expandPath(p[:open]+alt+p[end+1:])...)
	}
	return out
}

// checkInventory lists what is wrong with a table against the fields of a PodSpec (podSpecFields): fields no row
// covers, rows naming no field, fields covered twice, and rows without what their class needs. A field is covered
// by a row naming it, or by a Refused or NotNodesJob row naming a field above it.
func checkInventory(table []Field, fields []string) []string {
	var problems []string
	exists := map[string]bool{}
	for _, f := range fields {
		exists[f] = true
	}
	rows := map[string]Field{}
	for _, row := range table {
		switch {
		case row.Class == Honoured && row.Test == "":
			problems = append(problems, row.Path+": honoured without a test")
		case row.Class == Refused && row.Refusal == "":
			problems = append(problems, row.Path+": refused without the refusal a user sees")
		case row.Class == NotNodesJob && row.Why == "":
			problems = append(problems, row.Path+": not a node's job without saying whose")
		case row.Class != Honoured && row.Class != Refused && row.Class != NotNodesJob:
			problems = append(problems, fmt.Sprintf("%s: unknown class %q", row.Path, row.Class))
		}
		for _, p := range expandPath(row.Path) {
			if _, dup := rows[p]; dup {
				problems = append(problems, p+": in the inventory twice")
			}
			rows[p] = row
			if !exists[p] {
				problems = append(problems, p+": in the inventory, not in corev1.PodSpec")
			}
		}
	}
	// subtree is the Refused or NotNodesJob row above a path, if any.
	subtree := func(p string) (string, bool) {
		for i := strings.LastIndexByte(p, '.'); i > 0; i = strings.LastIndexByte(p[:i], '.') {
			if row, ok := rows[p[:i]]; ok && row.Class != Honoured {
				return p[:i], true
			}
		}
		return "", false
	}
	for _, f := range fields {
		above, covered := subtree(f)
		_, listed := rows[f]
		switch {
		case covered && listed:
			problems = append(problems, f+": covered by "+above+" already")
		case !covered && !listed && isLeaf(f, fields):
			problems = append(problems, f+": not in the inventory")
		}
	}
	slices.Sort(problems)
	return problems
}

// isLeaf tells whether a field has no fields below it: a field with parts is covered through them.
func isLeaf(f string, fields []string) bool {
	return !slices.ContainsFunc(fields, func(g string) bool { return strings.HasPrefix(g, f+".") })
}
