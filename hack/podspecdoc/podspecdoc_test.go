package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/berth-dev/berth/provider/podspec"
)

// docFile is docs/podspec.md, from this package's folder.
const docFile = "../../docs/podspec.md"

// TestDocInSync fails when docs/podspec.md is not what the inventory renders: run make podspec-doc.
func TestDocInSync(t *testing.T) {
	got, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	if want := Render(podspec.Inventory()); !bytes.Equal(got, want) {
		t.Errorf("%s is out of date with provider/podspec/inventory.go: run make podspec-doc", docFile)
	}
}

// TestRenderEscapes checks that a row's text cannot break the table: pipes and the <name> placeholders of messages.
func TestRenderEscapes(t *testing.T) {
	doc := Render([]podspec.Field{{Path: "spec.x", Class: podspec.Refused, Refusal: "a|b <name>"}})
	if !bytes.Contains(doc, []byte("| `spec.x` | refused |  | a\\|b &lt;name&gt; |  |\n")) {
		t.Errorf("row not escaped:\n%s", doc)
	}
}
